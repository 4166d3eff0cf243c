"""One kernel: the same real bars through the backtest, the local paper run and the Lambda
handlers (Kinesis-shaped events, real PostgreSQL and Redis) give the same orders and the same
fills, for every strategy on one account -- and then ``divergence`` finds nothing to explain."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from lambdas import wiring
from quantterminal.adapters.broker.simulated_broker import SimulatedBroker, SimulatorConfig
from quantterminal.adapters.ledger.sqlite_ledger import SqliteLedger
from quantterminal.adapters.state.memory_state import MemoryStateStore
from quantterminal.adapters.streams.bus import LocalBus
from quantterminal.core.accounting.order_ids import TIME_EXIT, intent_of
from quantterminal.core.accounting.orders import Order, OrderStatus, OrderType
from quantterminal.core.market_data.data_checks import merge_bars
from quantterminal.core.market_data.feed_events import BarSource, BarUpdate
from quantterminal.core.models import Bar, Fill
from quantterminal.core.reporting.divergence import StrategyDivergence, divergence
from quantterminal.core.risk.manager import RiskLimits
from quantterminal.core.simulation.backtest import BacktestConfig, BacktestResult
from quantterminal.core.simulation.fill_model import FillModel
from quantterminal.core.strategies import STRATEGIES, StrategyInstance, builtin_instance
from quantterminal.core.trading.config import TradingConfig
from quantterminal.core.trading.feed_codec import encode_bar_update
from quantterminal.examples.stop_breakout import StopBreakout
from quantterminal.wiring.backtest import run_backtest
from quantterminal.wiring.paper import BARS, PaperTrader
from quantterminal.wiring.runtime import Runtime
from tests.lambdas.harness import Live, run_bars
from tests.user_strategies import trade_probe
from tests.user_strategies.stop_trend import StopTrend
from tests.user_strategies.trade_probe import TradeProbe

NAMES = tuple(STRATEGIES)
# Each strategy sizes from a third of the account; a position limit of 5% of equity then refuses
# the second strategy entering one symbol -- so the environments must also refuse alike.
TRADING = TradingConfig(risk=RiskLimits(position_limit=Decimal("0.05")))


def fills_of(fills: list[Fill]) -> list[tuple[object, ...]]:
    return sorted((f.order_id, f.execution_id, f.timestamp, f.side, f.qty, f.price) for f in fills)


def run_paper(
    bars: list[Bar],
    broker: SimulatedBroker,
    strategies: Sequence[str | StrategyInstance] = NAMES,
    config: TradingConfig = TRADING,
) -> Runtime:
    """The local paper run's trading side (``qterm paper``), fed the bars as the feed would."""
    runtime = Runtime.build(MemoryStateStore(), SqliteLedger(":memory:"), broker, strategies=strategies, config=config)
    runtime.ledger.migrate()
    bus = LocalBus()
    trader = PaperTrader(runtime, bus, replay_clock=True)
    for bar in bars:
        trader.on_bar_record(encode_bar_update(BarUpdate(bar, BarSource.PROVIDER)))
    assert trader.failure is None
    assert trader.guard.record.outages == 0
    assert bus.stream(BARS)  # nothing else needed: the trader was handed each record
    return runtime


def run_lambdas(
    live: Live, bars: list[Bar], strategies: Sequence[str | StrategyInstance] = NAMES, config: TradingConfig = TRADING
) -> None:
    """Each bar as Kinesis delivers it to the bar handler, at its close; the broker's updates
    forwarded to the order-events handler as the feed task does."""
    wiring.use(
        Runtime.build(live.runtime.store, live.runtime.ledger, live.broker, strategies=strategies, config=config)
    )
    responses = run_bars(live, bars)
    assert all(r == {"batchItemFailures": []} for r in responses)


def positions_follow_the_fills(runtimes: Sequence[Runtime], fills: Sequence[Fill], owner: dict[str, str]) -> None:
    """Each environment's books hold, by instance and symbol, what ``fills`` add up to (a leg's
    fill counted to its entry's ``owner``), and no finished order is left among the open ones."""
    expected: dict[tuple[str, str], int] = {}
    for f in fills:
        key = (owner[f.order_id.split(".")[0]], f.symbol)
        expected[key] = expected.get(key, 0) + f.side.sign * f.qty
    for runtime in runtimes:
        held = {(p.strategy, p.symbol): p.qty for p in runtime.store.positions("paper") if p.qty}
        assert held == {k: v for k, v in expected.items() if v}
        assert not [o for o in runtime.store.open_orders("paper") if o.status.terminal]


def test_backtest_paper_and_lambdas_place_the_same_orders_and_get_the_same_fills(
    live: Live, lean_2013_rth: dict[str, list[Bar]]
) -> None:
    day = {s: [b for b in bars if b.timestamp.date() == bars[0].timestamp.date()] for s, bars in lean_2013_rth.items()}
    stream = merge_bars(day)
    fill_model = live.broker.config.fills

    backtest = run_backtest(BacktestConfig(NAMES, account="paper", fills=fill_model, trading=TRADING), day)
    paper_broker = SimulatedBroker(live.broker.config)
    paper = run_paper(stream, paper_broker)
    run_lambdas(live, stream)

    expected_orders = sorted((o.client_order_id, o.side, o.qty, o.order_type, o.limit_price) for o in backtest.orders)
    assert len(expected_orders) > 20, "a day of three strategies on three symbols trades"
    assert {o.strategy for o in backtest.orders} == set(NAMES)
    for broker in (paper_broker, live.broker):
        placed = sorted((o.client_order_id, o.side, o.qty, o.order_type, o.limit_price) for o in broker.all_orders())
        assert placed == expected_orders
        assert fills_of(broker.fills) == fills_of(backtest.fills)
    # the books agree too: every strategy's position, as each environment's state store holds it
    for runtime in (paper, live.runtime):
        held = {(p.strategy, p.symbol): p.qty for p in runtime.store.positions("paper") if p.qty}
        expected: dict[tuple[str, str], int] = {}
        strategy_of = {o.client_order_id: o.strategy for o in backtest.orders}
        for f in backtest.fills:
            key = (strategy_of[f.order_id], f.symbol)
            expected[key] = expected.get(key, 0) + f.side.sign * f.qty
        assert held == {k: v for k, v in expected.items() if v}
    # and the refusals: the same rule refused the same decisions
    refused = {o.order.client_order_id for o in backtest.refused}
    assert refused
    events = [e for day_ in {b.timestamp.date() for b in stream} for e in paper.ledger.risk_events_on(day_)]
    assert {str(e.details["client_order_id"]) for e in events if e.kind == "rejection"} == refused


def test_a_five_minute_strategy_trades_alike_in_backtest_paper_and_lambdas(
    live: Live, lean_2013_rth: dict[str, list[Bar]]
) -> None:
    """5- and 15-minute bars are built from the minute bars the same way in every environment (in
    the Lambdas, the bar in the making lives in the strategy's snapshot in Redis between
    invocations): the same orders at the same minutes, the same fills."""
    momentum_5m = replace(builtin_instance("momentum", {"fast": 3, "slow": 8}), name="momentum_5m", timeframe="5min")
    reversion_15m = replace(builtin_instance("mean_reversion"), name="reversion_15m", timeframe="15min")
    strategies = (momentum_5m, reversion_15m, "momentum")
    days = sorted({b.timestamp.date() for b in lean_2013_rth["SPY"]})[:2]
    bars = {s: [b for b in series if b.timestamp.date() in days] for s, series in lean_2013_rth.items()}
    stream = merge_bars(bars)
    backtest = run_backtest(
        BacktestConfig(strategies, account="paper", fills=live.broker.config.fills, trading=TRADING), bars
    )
    paper_broker = SimulatedBroker(live.broker.config)
    run_paper(stream, paper_broker, strategies)
    run_lambdas(live, stream, strategies)
    expected = sorted((o.client_order_id, o.side, o.qty, o.limit_price) for o in backtest.orders)
    by_strategy = {
        name: [o for o in backtest.orders if o.strategy == name] for name in ("momentum_5m", "reversion_15m")
    }
    assert all(len(orders) >= 4 for orders in by_strategy.values()), {k: len(v) for k, v in by_strategy.items()}
    # decided on 5-minute bars (stamped at their start, session-aligned), mostly placed as the last
    # minute of one closed (the rest: tried again on a later minute, e.g. after the close)
    decided = [s for s in backtest.signals if s.strategy == "momentum_5m"]
    assert decided
    assert all(s.bar_time.minute % 5 == 0 for s in decided)
    on_time = [o for o in by_strategy["momentum_5m"] if (o.decision_time.minute + 1) % 5 == 0]
    assert len(on_time) >= len(by_strategy["momentum_5m"]) / 2
    for broker in (paper_broker, live.broker):
        assert sorted((o.client_order_id, o.side, o.qty, o.limit_price) for o in broker.all_orders()) == expected
        assert fills_of(broker.fills) == fills_of(backtest.fills)


def paper_against_backtest(
    day: dict[str, list[Bar]], broker: SimulatedBroker, config: TradingConfig = TRADING
) -> dict[str, StrategyDivergence]:
    """A paper run of ``day`` on ``broker``, and its divergence from the backtest of the same bars."""
    stream = merge_bars(day)
    ledger = run_paper(stream, broker, NAMES, config).ledger
    start, end = stream[0].timestamp, stream[-1].timestamp + timedelta(minutes=1)
    events = [e for d in {b.timestamp.date() for b in stream} for e in ledger.risk_events_on(d)]
    return divergence(
        run_backtest(BacktestConfig(NAMES, account="paper", trading=config), day),
        ledger.signals_between(start, end),
        ledger.orders_between(start, end),
        ledger.fills_between(start, end),
        events,
        Decimal(100_000),
        {s: bars[-1].close for s, bars in day.items()},
    )


def test_divergence_of_a_paper_run_against_its_backtest_is_zero_by_every_cause(
    lean_2013_rth: dict[str, list[Bar]],
) -> None:
    day = {s: [b for b in bars if b.timestamp.date() == bars[0].timestamp.date()] for s, bars in lean_2013_rth.items()}
    report = paper_against_backtest(day, SimulatedBroker())
    for d in report.values():
        assert d.disagreements == ()
        assert d.missed == (), "every order attempt of the backtest was made by the run too"
        assert d.orders.backtest_only == d.orders.run_only == 0
        assert d.explanation.difference == 0
        assert all(v == 0 for v in d.explanation.parts.values())


def test_with_exit_legs_the_divergence_of_a_paper_run_is_still_zero_by_every_cause(
    lean_2013_rth: dict[str, list[Bar]],
) -> None:
    """Legs are orders of the strategy on both sides (placed with their entry, filled or canceled
    alike): matched by id, their fills in each instance's P&L."""
    day = {s: [b for b in bars if b.timestamp.date() == bars[0].timestamp.date()] for s, bars in lean_2013_rth.items()}
    config = replace(TRADING, stop_loss_bps=Decimal(8), take_profit_bps=Decimal(12))
    report = paper_against_backtest(day, SimulatedBroker(), config)
    assert sum(d.orders.both for d in report.values()) > 40
    for d in report.values():
        assert d.disagreements == ()
        assert d.missed == ()
        assert d.orders.backtest_only == d.orders.run_only == 0
        assert d.explanation.difference == 0
        assert all(v == 0 for v in d.explanation.parts.values())


def test_when_the_run_trades_differently_divergence_explains_every_cent(lean_2013_rth: dict[str, list[Bar]]) -> None:
    """A broker that fills a sliver of each bar's volume and answers late (chaos) is not the
    backtest's: the run's P&L differs, and the causes add up to the difference exactly."""
    day = {s: [b for b in bars if b.timestamp.date() == bars[0].timestamp.date()] for s, bars in lean_2013_rth.items()}
    report = paper_against_backtest(
        day, SimulatedBroker(SimulatorConfig(fills=FillModel(participation=0.0002), chaos=True, seed=3))
    )
    explained = [d.explanation for d in report.values()]
    assert any(e.difference != 0 for e in explained)
    assert all(e.check == 0 for e in explained)
    assert any(e.parts["not filled"] != 0 or e.parts["timing"] != 0 for e in explained)


def test_a_strategy_that_reads_its_trade_sees_the_same_books_and_trades_alike_everywhere(
    live: Live, lean_2013_rth: dict[str, list[Bar]]
) -> None:
    """Its exits depend on its entry price and time, read from the kernel's state: the backtest's
    resident objects, the paper run and the Lambdas' Redis snapshots show it the same position
    at every bar, and it places the same orders and gets the same fills."""
    probe = StrategyInstance.of(TradeProbe, params={"stop_loss_bps": 8, "take_profit_bps": 12, "max_minutes": 20})
    strategies = (probe, "momentum")
    day = {s: [b for b in bars if b.timestamp.date() == bars[0].timestamp.date()] for s, bars in lean_2013_rth.items()}
    stream = merge_bars(day)
    seen = {}
    trade_probe.SEEN.clear()
    backtest = run_backtest(
        BacktestConfig(strategies, account="paper", fills=live.broker.config.fills, trading=TRADING), day
    )
    seen["backtest"] = sorted(trade_probe.SEEN, key=repr)
    trade_probe.SEEN.clear()
    paper_broker = SimulatedBroker(live.broker.config)
    run_paper(stream, paper_broker, strategies)
    seen["paper"] = sorted(trade_probe.SEEN, key=repr)
    trade_probe.SEEN.clear()
    run_lambdas(live, stream, strategies)
    seen["lambdas"] = sorted(trade_probe.SEEN, key=repr)

    mine = [o for o in backtest.orders if o.strategy == probe.name]
    assert len(mine) >= 6, "the probe enters and leaves several times in a day"
    assert any(s[2] for s in seen["backtest"]), "it held positions"
    assert seen["paper"] == seen["backtest"]
    assert seen["lambdas"] == seen["backtest"]
    expected = sorted((o.client_order_id, o.side, o.qty, o.limit_price) for o in backtest.orders)
    for broker in (paper_broker, live.broker):
        assert sorted((o.client_order_id, o.side, o.qty, o.limit_price) for o in broker.all_orders()) == expected
        assert fills_of(broker.fills) == fills_of(backtest.fills)


def with_probe_everywhere(
    live: Live, rth: dict[str, list[Bar]], config: TradingConfig
) -> tuple[BacktestResult, SimulatedBroker, Runtime, dict[str, list[object]]]:
    """Momentum beside the trade-reading probe, on the first day of ``rth``, through the backtest,
    the paper run and the Lambdas: the backtest, the paper broker and runtime, and what the probe
    saw of its trade in each."""
    probe = StrategyInstance.of(TradeProbe, params={"stop_loss_bps": 50, "take_profit_bps": 50, "max_minutes": 90})
    strategies = ("momentum", probe)
    day = {s: [b for b in bars if b.timestamp.date() == bars[0].timestamp.date()] for s, bars in rth.items()}
    stream = merge_bars(day)
    seen: dict[str, list[object]] = {}
    trade_probe.SEEN.clear()
    backtest = run_backtest(
        BacktestConfig(strategies, account="paper", fills=live.broker.config.fills, trading=config), day
    )
    seen["backtest"] = sorted(trade_probe.SEEN, key=repr)
    trade_probe.SEEN.clear()
    paper_broker = SimulatedBroker(live.broker.config)
    paper = run_paper(stream, paper_broker, strategies, config)
    seen["paper"] = sorted(trade_probe.SEEN, key=repr)
    trade_probe.SEEN.clear()
    run_lambdas(live, stream, strategies, config)
    seen["lambdas"] = sorted(trade_probe.SEEN, key=repr)
    return backtest, paper_broker, paper, seen


def test_exit_legs_are_placed_filled_and_booked_alike_in_backtest_paper_and_lambdas(
    live: Live, lean_2013_rth: dict[str, list[Bar]]
) -> None:
    """Stop-loss and take-profit legs on every entry (``[orders]``): the same entries with the same
    legs, the same legs filled and canceled, the same positions -- and a strategy that reads its
    trade sees the same books at every bar, legs' fills included."""
    config = replace(TRADING, stop_loss_bps=Decimal(8), take_profit_bps=Decimal(12))
    backtest, paper_broker, paper, seen = with_probe_everywhere(live, lean_2013_rth, config)

    def terms(orders: Sequence[Order]) -> list[tuple[object, ...]]:
        return sorted(
            (o.client_order_id, o.side, o.qty, o.order_type, o.limit_price, o.stop_price, o.take_profit, o.stop_loss)
            for o in orders
        )

    legs = [o for o in paper_broker.all_orders() if o.parent is not None]
    assert sum(1 for o in legs if o.status is OrderStatus.FILLED) >= 4, "legs closed trades"
    assert seen["paper"] == seen["backtest"]
    assert seen["lambdas"] == seen["backtest"]
    for broker in (paper_broker, live.broker):
        assert terms(broker.all_orders()) == terms(backtest.orders)  # entries and their legs
        assert sorted((o.client_order_id, o.status) for o in broker.all_orders() if o.parent is not None) == sorted(
            (o.client_order_id, o.status) for o in legs
        )
        assert fills_of(broker.fills) == fills_of(paper_broker.fills)
    assert {(f.order_id, f.execution_id) for f in backtest.fills} == {
        (f.order_id, f.execution_id) for f in paper_broker.fills
    }
    for runtime in (paper, live.runtime):  # every leg's fill booked once, to the instance that placed the entry
        held = {(p.strategy, p.symbol): p.qty for p in runtime.store.positions("paper") if p.qty}
        by_broker: dict[tuple[str, str], int] = {}
        owner = {o.client_order_id: o.strategy for o in backtest.orders}
        for f in paper_broker.fills:
            key = (owner[f.order_id.split(".")[0]], f.symbol)
            by_broker[key] = by_broker.get(key, 0) + f.side.sign * f.qty
        assert held == {k: v for k, v in by_broker.items() if v}
        assert not [o for o in runtime.store.open_orders("paper") if o.status.terminal]


def test_a_configured_trailing_stop_is_placed_filled_and_booked_alike_in_backtest_paper_and_lambdas(
    live: Live, lean_2013_rth: dict[str, list[Bar]]
) -> None:
    """``[orders] trailing_stop_bps`` and ``max_holding_minutes``: the kernel puts a trailing stop
    under every position the bar after its entry filled, and closes a position held its longest;
    the same stops at the same bars, the same ones filled, followed and canceled, the same time
    exits, the same positions -- and the trade-reading strategy sees the same books."""
    config = replace(TRADING, trailing_stop_bps=Decimal(10), max_holding_minutes=25)
    backtest, paper_broker, paper, seen = with_probe_everywhere(live, lean_2013_rth, config)

    def terms(orders: Sequence[Order]) -> list[tuple[object, ...]]:
        return sorted((o.client_order_id, o.side, o.qty, o.order_type, o.limit_price, o.trail_bps) for o in orders)

    trailing = [o for o in paper_broker.all_orders() if o.order_type is OrderType.TRAILING_STOP]
    assert sum(1 for o in trailing if o.status is OrderStatus.FILLED) >= 3, "trailing stops closed trades"
    assert sum(1 for o in trailing if o.status is OrderStatus.CANCELED) >= 3, "the strategies' own exits canceled some"
    assert sum(1 for o in backtest.orders if intent_of(o.client_order_id) == TIME_EXIT) >= 3, "positions timed out"
    assert seen["paper"] == seen["backtest"]
    assert seen["lambdas"] == seen["backtest"]
    for broker in (paper_broker, live.broker):
        assert terms(broker.all_orders()) == terms(backtest.orders)
        assert sorted((o.client_order_id, o.status) for o in broker.all_orders() if o.protective) == sorted(
            (o.client_order_id, o.status) for o in trailing
        )
        assert fills_of(broker.fills) == fills_of(backtest.fills)
    positions_follow_the_fills(
        (paper, live.runtime), backtest.fills, {o.client_order_id: o.strategy for o in backtest.orders}
    )


def test_a_strategys_own_stops_are_placed_canceled_and_filled_alike_in_backtest_paper_and_lambdas(
    live: Live, lean_2013_rth: dict[str, list[Bar]]
) -> None:
    """A strategy that answers ``Wanted`` (the stop breakout: a buy stop above its channel, a
    sell stop under it once long, each moved as the channel moves): the same stops at the same
    prices and times in force, the same ones filled and canceled, the same positions -- with the
    Lambdas' answers, terms included, kept in Redis snapshots between invocations."""
    stops = StrategyInstance.of(StopBreakout, params={"entry_bars": 10, "exit_bars": 5})
    strategies = ("momentum", stops)
    day = {s: [b for b in bars if b.timestamp.date() == bars[0].timestamp.date()] for s, bars in lean_2013_rth.items()}
    stream = merge_bars(day)
    config = BacktestConfig(strategies, account="paper", fills=live.broker.config.fills, trading=TRADING)
    backtest = run_backtest(config, day)
    paper_broker = SimulatedBroker(live.broker.config)
    paper = run_paper(stream, paper_broker, strategies)
    run_lambdas(live, stream, strategies)

    def terms(orders: Sequence[Order]) -> list[tuple[object, ...]]:
        return sorted(
            (o.client_order_id, o.side, o.qty, o.order_type, o.limit_price, o.stop_price, o.time_in_force)
            for o in orders
        )

    own = [o for o in paper_broker.all_orders() if o.strategy == "stop_breakout"]
    assert {o.order_type for o in own} == {OrderType.STOP}
    assert sum(1 for o in own if o.status is OrderStatus.FILLED) >= 6, "stops bought and sold"
    assert sum(1 for o in own if o.status is OrderStatus.CANCELED) >= 6, "moved channels canceled stops"
    for broker in (paper_broker, live.broker):
        assert terms(broker.all_orders()) == terms(backtest.orders)
        assert sorted((o.client_order_id, o.status) for o in broker.all_orders()) == sorted(
            (o.client_order_id, o.status) for o in paper_broker.all_orders()
        )
        assert fills_of(broker.fills) == fills_of(backtest.fills)
    positions_follow_the_fills(
        (paper, live.runtime), backtest.fills, {o.client_order_id: o.strategy for o in backtest.orders}
    )
    for runtime in (paper, live.runtime):
        working = [o for o in runtime.store.open_orders("paper") if o.strategy == "stop_breakout"]
        assert all(o.strategy_terms for o in working)


def test_a_stop_entrys_position_gets_its_legs_as_oco_alike_in_backtest_paper_and_lambdas(
    live: Live, lean_2013_rth: dict[str, list[Bar]]
) -> None:
    """Exit legs configured and a strategy entering through buy stops: each stop entry goes alone,
    and the position it opens gets its take-profit and stop-loss as one-cancels-other the bar it
    filled -- the same exits at the same prices, filled or canceled alike (the strategy's own exit
    cancels them first), the same positions in every environment."""
    config = TradingConfig(stop_loss_bps=Decimal(8), take_profit_bps=Decimal(12))  # one instance: the whole account
    strategies = (StrategyInstance.of(StopTrend),)
    day = {s: [b for b in bars if b.timestamp.date() == bars[0].timestamp.date()] for s, bars in lean_2013_rth.items()}
    stream = merge_bars(day)
    backtest = run_backtest(
        BacktestConfig(strategies, account="paper", fills=live.broker.config.fills, trading=config), day
    )
    paper_broker = SimulatedBroker(live.broker.config)
    paper = run_paper(stream, paper_broker, strategies, config)
    run_lambdas(live, stream, strategies, config)

    def terms(orders: Sequence[Order]) -> list[tuple[object, ...]]:
        return sorted(
            (o.client_order_id, o.side, o.qty, o.order_type, o.limit_price, o.stop_price, o.stop_loss, o.oco)
            for o in orders
        )

    protect = [o for o in paper_broker.all_orders() if o.oco]
    legs = [o for o in paper_broker.all_orders() if o.parent in {p.client_order_id for p in protect}]
    assert len(protect) >= 5
    assert {o.status for o in protect + legs} >= {OrderStatus.FILLED, OrderStatus.CANCELED}
    assert not [o for o in paper_broker.all_orders() if o.order_type is OrderType.STOP and o.take_profit]
    for broker in (paper_broker, live.broker):
        assert terms(broker.all_orders()) == terms(paper_broker.all_orders())
        assert sorted((o.client_order_id, o.status) for o in broker.all_orders()) == sorted(
            (o.client_order_id, o.status) for o in paper_broker.all_orders()
        )
        assert fills_of(broker.fills) == fills_of(backtest.fills)
    assert terms([o for o in backtest.orders if o.parent is None]) == terms(
        [o for o in paper_broker.all_orders() if o.parent is None]
    )
    positions_follow_the_fills(
        (paper, live.runtime), backtest.fills, {o.client_order_id: o.strategy for o in backtest.orders}
    )
