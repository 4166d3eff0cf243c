"""A strategy's own order terms (``Wanted``): a stop or limit at the price it computes, with its
time in force, placed by the kernel as asked (whole ticks on the safe side), kept working while
the answer stands, canceled when it changes, never placed once the close has crossed its stop --
on real minute bars (the shipped stop breakout) and on a scripted strategy whose every answer is
known, the books equal to the broker's throughout."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import pytest

from quantterminal import Wanted
from quantterminal.adapters.broker.simulated_broker import SimulatedBroker
from quantterminal.adapters.state.object_state import ObjectStateStore
from quantterminal.core.accounting.orders import OrderStatus, OrderType, TimeInForce
from quantterminal.core.models import Bar, Direction, Side
from quantterminal.core.simulation.backtest import BacktestConfig, Backtester, BacktestResult
from quantterminal.core.strategies.base import Strategy, StrategyParams
from quantterminal.core.strategies.instance import StrategyInstance
from quantterminal.core.trading.config import TradingConfig
from quantterminal.examples.stop_breakout import StopBreakout
from quantterminal.testing import StrategyCheckError, check_strategy
from quantterminal.wiring.backtest import backtest_handlers

LEGS = TradingConfig(stop_loss_bps=Decimal(20), take_profit_bps=Decimal(40))


def backtest(
    instance: StrategyInstance, bars: list[Bar], trading: TradingConfig | None = None
) -> tuple[BacktestResult, SimulatedBroker, ObjectStateStore]:
    kept: list[tuple[SimulatedBroker, ObjectStateStore]] = []

    def handlers(config: BacktestConfig) -> tuple[SimulatedBroker, ObjectStateStore]:
        kept.append(backtest_handlers(config))
        return kept[-1]

    config = BacktestConfig((instance,), trading=trading or TradingConfig())
    result = Backtester(config, handlers).run({bars[0].symbol: bars})
    return result, *kept[-1]


def test_the_stop_breakout_buys_and_sells_through_its_own_stops_at_the_channel(spy_2011_rth: list[Bar]) -> None:
    bars = spy_2011_rth[:6000]
    result, venue, store = backtest(StrategyInstance.of(StopBreakout), bars)
    assert len(result.trades) >= 50
    assert {(o.order_type, o.side, o.time_in_force) for o in result.orders} == {
        (OrderType.STOP, Side.BUY, TimeInForce.DAY),
        (OrderType.STOP, Side.SELL, TimeInForce.GTC),
    }
    assert all(o.strategy_terms and o.limit_price is None for o in result.orders)
    at = {b.timestamp: i for i, b in enumerate(bars)}
    for order in result.orders:  # a cent beyond the channel of the bars up to the decision, by hand
        assert order.decision_time is not None
        assert order.stop_price is not None
        assert order.decision_price is not None
        i = at[order.decision_time]
        if order.side is Side.BUY:
            assert order.stop_price == Decimal(str(round(max(b.high for b in bars[i - 19 : i + 1]) + 0.01, 2)))
            assert order.stop_price > order.decision_price  # never placed on the wrong side of the market
        else:
            assert order.stop_price == Decimal(str(round(min(b.low for b in bars[i - 9 : i + 1]) - 0.01, 2)))
            assert order.stop_price < order.decision_price
    stops = {o.client_order_id: o for o in result.orders}
    for fill in venue.fills:  # a stop fills where the market reached it, or worse through a gap -- never better
        stop = stops[fill.order_id].stop_price
        assert stop is not None
        assert fill.price >= stop if fill.side is Side.BUY else fill.price <= stop
    # a moved channel cancels the working stop; the answers that did not move it kept the one order
    ends = Counter(o.status for o in venue.all_orders())
    assert ends[OrderStatus.CANCELED] >= 100
    assert ends[OrderStatus.FILLED] == 2 * len(result.trades) - (1 if result.open_positions.get("SPY") else 0)
    canceled = [o for o in result.not_filled if o.rule == "canceled"]
    assert canceled
    assert {o.reason for o in canceled} == {"its strategy's answer changed: canceled"}
    assert Counter(t.exit_reason for t in result.trades) == {"stop": len(result.trades)}
    held = {p.symbol: p.qty for p in venue.positions()}
    assert {p.symbol: p.qty for p in store.positions("backtest") if p.qty} == {s: q for s, q in held.items() if q}


@dataclass(frozen=True)
class ScriptParams(StrategyParams):
    pass


class Scripted(Strategy):
    """Answers from ``SCRIPT``, one per bar (the last one repeated)."""

    name = "scripted"
    params_type = ScriptParams
    SCRIPT: ClassVar[list[Direction | Wanted | None]] = []

    def __init__(self, symbol: str, params: StrategyParams | None = None) -> None:
        super().__init__(symbol, params)
        self.seen = 0

    def on_bar(self, bar: Bar) -> Direction | Wanted | None:
        answer = self.SCRIPT[min(self.seen, len(self.SCRIPT) - 1)]
        self.seen += 1
        return answer

    def _state(self) -> dict[str, Any]:
        return {"seen": self.seen}

    def _load_state(self, state: dict[str, Any]) -> None:
        self.seen = state["seen"]


def flat_bars(n: int, high: float = 100.2) -> list[Bar]:
    """A quiet market: every minute of a Monday from the open, 100 ± 0.2 (highs at ``high``)."""
    start = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)
    return [Bar("XYZ", start + timedelta(minutes=i), 100.0, high, 99.8, 100.0, 50_000) for i in range(n)]


def run_script(script: list[Direction | Wanted | None], bars: list[Bar], trading: TradingConfig | None = None):  # type: ignore[no-untyped-def]
    Scripted.SCRIPT = script
    return backtest(StrategyInstance.of(Scripted), bars, trading)


def test_a_stop_works_while_it_is_asked_for_and_is_canceled_when_the_answer_changes() -> None:
    above = Wanted(Direction.LONG, stop=101.004, time_in_force="gtc")  # a buy stop: up to 101.01
    moved = Wanted(Direction.LONG, stop=Decimal("100.5"), time_in_force="gtc")
    script: list[Direction | Wanted | None] = [None, *[above] * 5, *[moved] * 5, Direction.FLAT]
    result, venue, _store = run_script(script, flat_bars(20))
    placed = [(o.stop_price, o.time_in_force, o.order_type) for o in result.orders]
    # one order for five bars of the same answer; the moved stop, once the first one's cancel is booked
    assert placed == [
        (Decimal("101.01"), TimeInForce.GTC, OrderType.STOP),
        (Decimal("100.50"), TimeInForce.GTC, OrderType.STOP),
    ]
    assert [o.status for o in venue.all_orders()] == [OrderStatus.CANCELED, OrderStatus.CANCELED]
    assert not venue.fills  # the market never reached either stop
    assert result.orders[1].decision_time is not None
    assert result.orders[1].decision_time > flat_bars(7)[-1].timestamp  # after the change of answer on bar 6


def test_a_stop_fills_when_a_bar_trades_through_it_and_the_same_answer_then_holds() -> None:
    bars = flat_bars(12)
    bars[4] = Bar("XYZ", bars[4].timestamp, 100.0, 101.5, 99.9, 101.2, 50_000)  # the breakout bar
    wanted = Wanted(Direction.LONG, stop=101.0)
    result, venue, store = run_script([None, *[wanted] * 20], bars)
    assert len(result.orders) == 1
    (fill,) = venue.fills
    assert (fill.side, fill.timestamp, fill.price) == (Side.BUY, bars[4].timestamp, Decimal("101.00"))
    assert store.get_position("backtest", "scripted", "XYZ").qty == fill.qty


def test_a_stop_the_close_has_crossed_is_not_placed_and_a_limit_rests_at_its_price() -> None:
    crossed = Wanted(Direction.LONG, stop=99.5)  # a buy stop below the market: Alpaca refuses it
    result, venue, _store = run_script([None, crossed], flat_bars(6))
    assert not result.orders
    assert not venue.all_orders()
    bid = Wanted(Direction.LONG, limit=99.756, time_in_force="day")  # a buy limit: down to 99.75, under every low
    result, venue, _store = run_script([None, bid], flat_bars(30))
    assert [(o.order_type, o.limit_price, o.stop_price) for o in result.orders] == [
        (OrderType.LIMIT, Decimal("99.75"), None)
    ]
    # it rests for the 29 minutes the answer stands: the configuration's 30 s cancel age is not its
    assert [o.status for o in venue.all_orders()] == [OrderStatus.ACCEPTED]
    assert [o.rule for o in result.not_filled] == ["data_end"]


def test_exit_legs_go_with_a_limit_entry_from_its_price() -> None:
    bid = Wanted(Direction.LONG, limit=99.9)
    result, _venue, _store = run_script([None, bid], flat_bars(6), LEGS)
    (entry,) = [o for o in result.orders if o.parent is None]
    # from the entry's own price, good till canceled (its legs inherit that: they outlive the session)
    assert (entry.limit_price, entry.take_profit, entry.stop_loss) == (
        Decimal("99.90"),
        Decimal("100.30"),
        Decimal("99.70"),
    )
    assert entry.time_in_force is TimeInForce.GTC


def test_a_stop_entry_goes_alone_and_its_position_gets_its_legs_as_one_cancels_other() -> None:
    """Brokers attach legs to market and limit entries only: a stop entry is placed as asked, and
    once it has filled the kernel puts the configured take-profit and stop-loss under the position
    as one-cancels-other, measured from the price it was bought at; the first to fill ends the other."""
    bars = flat_bars(12)
    bars[4] = Bar("XYZ", bars[4].timestamp, 100.0, 101.5, 99.9, 101.2, 50_000)  # the breakout
    for i in range(5, 12):  # and the market stays up there: the take-profit is reached
        bars[i] = Bar("XYZ", bars[i].timestamp, 101.0, 101.3, 100.9, 101.0, 50_000)
    result, venue, store = run_script([None, *[Wanted(Direction.LONG, stop=100.5)] * 20], bars, LEGS)
    entry, protect = [o for o in result.orders if o.parent is None]
    assert (entry.order_type, entry.stop_price, entry.take_profit, entry.stop_loss) == (
        OrderType.STOP,
        Decimal("100.50"),
        None,
        None,
    )
    assert entry.time_in_force is TimeInForce.DAY
    # 40 bps over and 20 under the entry's fill at 100.50, decided on the bar it filled
    assert (protect.oco, protect.side, protect.limit_price, protect.stop_loss) == (
        True,
        Side.SELL,
        Decimal("100.91"),
        Decimal("100.29"),
    )
    assert (protect.decision_time, protect.time_in_force) == (bars[4].timestamp, TimeInForce.GTC)
    statuses = {o.client_order_id: o.status for o in venue.all_orders()}
    assert statuses[protect.client_order_id] is OrderStatus.FILLED
    assert statuses[f"{protect.client_order_id}.sl"] is OrderStatus.CANCELED
    assert [t.exit_reason for t in result.trades] == ["take-profit"]
    assert store.get_position("backtest", "scripted", "XYZ").qty == 0
    assert len([o for o in result.orders if o.parent is None]) == 2, "out by its target: the same answer sits out"


def test_a_reversal_gets_its_legs_once_it_has_filled_or_leaves_at_market_past_its_stop_loss() -> None:
    """A reversal (long to short in one order) carries no legs; the short it opened gets them as
    one-cancels-other -- unless the market has already passed the stop-loss they would have had:
    then it is closed at market, and the trade's exit reason is "stop"."""
    wide = TradingConfig(stop_loss_bps=Decimal(50), take_profit_bps=Decimal(100))
    script: list[Direction | Wanted | None] = [None, Direction.LONG, Direction.LONG, *[Direction.SHORT] * 20]
    Scripted.SCRIPT = script
    allowed = StrategyInstance.of(Scripted, params={"allow_short": True})
    result, _venue, _store = backtest(allowed, flat_bars(12), wide)
    (protect,) = [o for o in result.orders if o.oco]
    short = next(o for o in result.orders if "-short-" in o.client_order_id and o.parent is None)
    assert (short.qty, short.take_profit, short.stop_loss) == (2 * 99 + 1, None, None)  # the reversal: no legs
    # a buy to cover: 100 bps under the short's fill at 100.00, 50 over
    assert (protect.side, protect.qty, protect.limit_price, protect.stop_loss) == (
        Side.BUY,
        100,
        Decimal("99.00"),
        Decimal("100.50"),
    )
    bars = flat_bars(12)
    at = next(i for i, b in enumerate(bars) if short.decision_time and b.timestamp > short.decision_time)
    bars[at] = Bar("XYZ", bars[at].timestamp, 100.0, 101.0, 99.9, 100.9, 50_000)  # fills the short, closes over 100.50
    Scripted.SCRIPT = script
    result, _venue, store = backtest(allowed, bars, wide)
    assert not [o for o in result.orders if o.oco]
    (stopped,) = [o for o in result.orders if "-stop-" in o.client_order_id]
    assert (stopped.order_type, stopped.side, stopped.decision_time) == (OrderType.MARKET, Side.BUY, bars[at].timestamp)
    assert result.trades[-1].exit_reason == "stop"
    assert store.get_position("backtest", "scripted", "XYZ").qty == 0


def test_check_strategy_passes_the_stop_breakout_and_names_an_answer_that_is_not_one(spy_2011_rth: list[Bar]) -> None:
    report = check_strategy(StopBreakout, {"entry_bars": 15}, spy_2011_rth[:1500])
    assert report.changes > 10

    class Odd(Scripted):
        name = "odd"

    Odd.SCRIPT = [None, "long"]  # type: ignore[list-item]
    with pytest.raises(
        StrategyCheckError, match="at bar 1 it answered 'long'; an answer is a Direction, a Wanted or None"
    ):
        check_strategy(Odd, {}, spy_2011_rth[:50])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give a stop or a limit price"),
        ({"stop": 0}, "stop must be a positive, finite price"),
        ({"limit": float("nan")}, "limit must be a positive, finite price"),
        ({"stop": True}, "stop must be a positive, finite price"),
        ({"stop": "101"}, "stop must be a positive, finite price"),
        ({"stop": 101, "time_in_force": "fok"}, "time_in_force must be one of day, gtc, ioc"),
    ],
)
def test_a_wanted_that_cannot_be_placed_is_refused_in_one_line(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Wanted(Direction.LONG, **kwargs)


def test_a_longest_hold_closes_the_position_over_the_strategys_own_working_exit() -> None:
    bid = Wanted(Direction.LONG, limit=100.1)
    far_stop = Wanted(Direction.FLAT, stop=99.0, time_in_force="gtc")  # never reached by a quiet market
    script: list[Direction | Wanted | None] = [None, bid, bid, *[far_stop] * 30]
    result, venue, store = run_script(script, flat_bars(20), TradingConfig(max_holding_minutes=5))
    assert [t.exit_reason for t in result.trades] == ["time"]
    exit_stop = next(o for o in venue.all_orders() if o.order_type is OrderType.STOP)
    assert exit_stop.status is OrderStatus.CANCELED  # canceled first, then the time exit on the configured terms
    timed = [o for o in result.orders if "-time-" in o.client_order_id]
    assert [(o.order_type, o.strategy_terms) for o in timed] == [(OrderType.LIMIT, False)]
    assert store.get_position("backtest", "scripted", "XYZ").qty == 0


def test_a_stop_limit_triggered_by_a_gap_fills_only_within_its_limit() -> None:
    bars = flat_bars(10)
    bars[3] = Bar("XYZ", bars[3].timestamp, 100.9, 101.4, 100.8, 101.3, 50_000)  # opens over the stop and the limit
    wanted = Wanted(Direction.LONG, stop=100.5, limit=100.6)
    result, venue, _store = run_script([None, *[wanted] * 20], bars)
    assert [(o.order_type, o.stop_price, o.limit_price) for o in result.orders] == [
        (OrderType.STOP_LIMIT, Decimal("100.50"), Decimal("100.60"))
    ]
    # triggered by the gap over 100.60 but not filled there (a market order would have paid 100.90):
    # it rests as a limit and fills on the next bar, back within its limit
    (fill,) = venue.fills
    assert fill.timestamp == bars[4].timestamp
    assert fill.price <= Decimal("100.60")
