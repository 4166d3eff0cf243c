"""Exit legs by configuration (``[orders] stop_loss_bps / take_profit_bps``): every entry from flat
carries a stop-loss and a take-profit held at the broker; the first to fill closes the position and
cancels the other; the instance does not re-enter on the same answer; the strategy's own exit
cancels the legs first; trades say what closed them -- on real minute bars, the books equal to the
broker's throughout."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from quantterminal.adapters.broker.simulated_broker import SimulatedBroker
from quantterminal.adapters.state.object_state import ObjectStateStore
from quantterminal.config.load import ConfigError, from_text
from quantterminal.core.accounting.order_ids import TIME_EXIT, client_order_id, intent_of
from quantterminal.core.accounting.orders import OrderStatus, OrderType, TimeInForce
from quantterminal.core.models import Bar, Direction, Side
from quantterminal.core.money import round_to_tick
from quantterminal.core.simulation.backtest import BacktestConfig, Backtester, BacktestResult
from quantterminal.core.strategies.base import StrategyError, StrategyParams
from quantterminal.core.strategies.exit_orders import ExitOrders
from quantterminal.core.strategies.instance import StrategyInstance
from quantterminal.core.strategies.momentum import Momentum
from quantterminal.core.trading.config import TradingConfig
from quantterminal.wiring.backtest import backtest_handlers

EXITS = TradingConfig(stop_loss_bps=Decimal(15), take_profit_bps=Decimal(30))


def backtest(bars: list[Bar]) -> tuple[BacktestResult, SimulatedBroker, ObjectStateStore]:
    """Momentum with exit legs over ``bars``, and the run's broker and state store to look into."""
    kept: list[tuple[SimulatedBroker, ObjectStateStore]] = []

    def handlers(config: BacktestConfig) -> tuple[SimulatedBroker, ObjectStateStore]:
        kept.append(backtest_handlers(config))
        return kept[-1]

    result = Backtester(BacktestConfig(("momentum",), trading=EXITS), handlers).run({"SPY": bars})
    return result, *kept[-1]


def test_entries_carry_exit_legs_and_the_first_leg_to_fill_closes_the_trade(spy_2011_rth: list[Bar]) -> None:
    result, venue, store = backtest(spy_2011_rth[:6000])
    orders = {o.client_order_id: o for o in venue.all_orders()}
    entries = [o for o in result.orders if o.take_profit is not None]
    assert len(entries) > 30
    for entry in entries:  # the configured distances from the decision close, never tighter
        assert entry.decision_price is not None
        up, down = ("up", "down") if entry.side is Side.BUY else ("down", "up")
        sign = entry.side.sign
        assert entry.take_profit == round_to_tick(entry.decision_price * (1 + sign * Decimal("0.003")), up)
        assert entry.stop_loss == round_to_tick(entry.decision_price * (1 - sign * Decimal("0.0015")), down)
        assert entry.time_in_force is TimeInForce.GTC
    legs = [o for o in orders.values() if o.parent is not None]
    filled = [o for o in legs if o.status is OrderStatus.FILLED]
    reasons = Counter(t.exit_reason for t in result.trades)
    assert min(reasons["stop"], reasons["take-profit"], reasons["signal"]) >= 3, reasons
    # A position whose legs the strategy's own exit canceled, and which it then kept (its answer
    # turned back before the exit was placed), is protected again by one-cancels-other.
    oco = [o for o in orders.values() if o.oco]
    assert oco
    assert reasons["stop"] + reasons["take-profit"] == len(filled) + sum(o.status is OrderStatus.FILLED for o in oco)
    for leg in filled:  # one order of a pair filled: the other was canceled, never both
        siblings = [o for o in [*legs, *oco] if leg.parent in (o.parent, o.client_order_id) and o is not leg]
        assert all(s.status is OrderStatus.CANCELED and s.filled_qty == 0 for s in siblings)
    # the books agree with the broker, and only exits close: no leg ever made a position
    held = {p.symbol: p.qty for p in venue.positions()}
    assert held == {s: q for s, q in result.open_positions.items() if q}
    assert {p.symbol: p.qty for p in store.positions("backtest") if p.qty} == held


def test_after_a_leg_closes_a_trade_the_same_answer_is_not_a_new_entry(spy_2011_rth: list[Bar]) -> None:
    result, venue, _store = backtest(spy_2011_rth[:6000])
    legs = {o.client_order_id: o for o in venue.all_orders() if o.parent is not None}
    leg_exits = sorted((f.timestamp, legs[f.order_id]) for f in venue.fills if f.order_id in legs)
    assert leg_exits
    checked = 0
    for at, leg in leg_exits:
        closed = Direction.LONG if leg.side is Side.SELL else Direction.SHORT
        later = [o for o in result.orders if o.decision_time is not None and o.decision_time > at]
        if not later:
            continue
        first = min(later, key=lambda o: o.decision_time)  # type: ignore[arg-type,return-value]
        if (first.side is Side.BUY) is (closed is Direction.LONG):  # the same way again: only after a change
            assert first.decision_time is not None
            between = [s for s in result.signals if at <= s.bar_time <= first.decision_time]
            assert any(s.direction is not closed for s in between), (at, first.client_order_id)
            checked += 1
    assert checked >= 3, "several trades were entered the same way again after a leg closed one"


def test_the_strategys_own_exit_cancels_the_legs_before_it_sells(spy_2011_rth: list[Bar]) -> None:
    result, venue, _store = backtest(spy_2011_rth[:6000])
    by_id = {o.client_order_id: o for o in venue.all_orders()}
    signal_exits = [o for o in result.orders if "-flat-" in o.client_order_id]
    assert signal_exits
    for exit_order in signal_exits:
        assert exit_order.created_at is not None
        live = [
            o
            for o in by_id.values()
            if o.parent is not None
            and o.created_at is not None
            and o.created_at < exit_order.created_at
            and (o.status is not OrderStatus.CANCELED or (o.updated_at or o.created_at) > exit_order.created_at)
            and o.status is not OrderStatus.FILLED
        ]
        assert live == [], f"{exit_order.client_order_id} was placed while exit legs still held the shares"
    assert all(o.order_type in (OrderType.LIMIT, OrderType.STOP) for o in by_id.values() if o.parent is not None)


CONFIG = """
[[strategies]]
name = "momentum"
strategy = "momentum"

[orders]
stop_loss_bps = 20
take_profit_bps = 45
"""


def config(text: str):  # type: ignore[no-untyped-def]
    return from_text(text, "test.toml", Path(".")).config


def test_the_configuration_sets_the_legs_and_refuses_what_cannot_work() -> None:
    trading = config(CONFIG).trading()
    assert (trading.stop_loss_bps, trading.take_profit_bps) == (Decimal(20), Decimal(45))
    with pytest.raises(ConfigError, match="take_profit_bps must exceed limit_offset_bps"):
        config(CONFIG.replace("take_profit_bps = 45", "take_profit_bps = 3"))
    # at Alpaca the legs are its own order classes (bracket / oto): tests/contract/test_alpaca_exit_legs.py
    assert config(CONFIG + '\n[broker]\nkind = "alpaca-paper"\n').trading().stop_loss_bps == Decimal(20)
    with pytest.raises(ValueError, match="stop_loss_bps must be between"):
        TradingConfig(stop_loss_bps=Decimal(0))


def test_a_configured_trailing_stop_protects_each_position_from_the_bar_after_its_entry_filled(
    spy_2011_rth: list[Bar],
) -> None:
    kept: list[tuple[SimulatedBroker, ObjectStateStore]] = []

    def handlers(config: BacktestConfig) -> tuple[SimulatedBroker, ObjectStateStore]:
        kept.append(backtest_handlers(config))
        return kept[-1]

    trailing = TradingConfig(trailing_stop_bps=Decimal(12))
    result = Backtester(BacktestConfig(("momentum",), trading=trailing), handlers).run({"SPY": spy_2011_rth[:6000]})
    venue, store = kept[-1]
    stops = [o for o in venue.all_orders() if o.order_type is OrderType.TRAILING_STOP]
    reasons = Counter(t.exit_reason for t in result.trades)
    assert reasons["trailing"] >= 5, reasons
    assert reasons["trailing"] == sum(1 for o in stops if o.status is OrderStatus.FILLED)
    fills = sorted(venue.fills, key=lambda f: (f.timestamp, f.execution_id))
    for stop in stops:
        assert (stop.time_in_force, stop.trail_bps) == (TimeInForce.GTC, Decimal(12))
        assert stop.decision_time is not None
        # placed on the first bar after the fill that completed the position: never before it
        before = [f for f in fills if f.timestamp <= stop.decision_time + timedelta(minutes=1)]
        position = sum(f.side.sign * f.qty for f in before if f.order_id != stop.client_order_id)
        assert stop.qty == abs(position), stop.client_order_id
        assert stop.side is (Side.SELL if position > 0 else Side.BUY)
    assert max(Counter(o.decision_time for o in stops).values()) == 1
    held = {p.symbol: p.qty for p in venue.positions()}
    assert {p.symbol: p.qty for p in store.positions("backtest") if p.qty} == held


def test_a_trailing_stop_is_refused_beside_exit_legs() -> None:
    with pytest.raises(ConfigError, match="trailing_stop_bps cannot be combined"):
        config(CONFIG + "trailing_stop_bps = 40\n")
    with pytest.raises(ValueError, match="trailing_stop_bps cannot be combined"):
        TradingConfig(stop_loss_bps=Decimal(10), trailing_stop_bps=Decimal(10))
    assert config("[orders]\ntrailing_stop_bps = 40\n").trading().trailing_stop_bps == Decimal(40)


class GuardedMomentum(Momentum):
    """Momentum that wants its stop and target held at the broker, whatever the configuration says."""

    name = "guarded_momentum"

    @classmethod
    def exit_orders(cls, params: StrategyParams) -> ExitOrders | None:
        return ExitOrders(stop_loss_bps=15, take_profit_bps=30)


class TrailedMomentum(Momentum):
    name = "trailed_momentum"

    @classmethod
    def exit_orders(cls, params: StrategyParams) -> ExitOrders | None:
        return ExitOrders(trailing_stop_bps=12.5)


def test_a_strategy_declares_its_own_exits_and_only_its_instances_trade_with_them(spy_2011_rth: list[Bar]) -> None:
    guarded = StrategyInstance.of(GuardedMomentum, name="guarded")
    trailed = StrategyInstance.of(TrailedMomentum, name="trailed")
    both = Backtester(BacktestConfig(("momentum", guarded)), backtest_handlers).run({"SPY": spy_2011_rth[:4000]})
    plain = [o for o in both.orders if o.strategy == "momentum"]
    assert plain
    assert not [o for o in plain if o.protective or o.take_profit or o.stop_loss], "the configuration's: none"
    entries = [o for o in both.orders if o.strategy == "guarded" and o.take_profit is not None]
    assert entries
    for entry in entries:
        assert entry.decision_price is not None
        down = "down" if entry.side is Side.BUY else "up"
        assert entry.stop_loss == round_to_tick(entry.decision_price * (1 - entry.side.sign * Decimal("0.0015")), down)
    alone = Backtester(BacktestConfig((trailed,)), backtest_handlers).run({"SPY": spy_2011_rth[:4000]})
    stops = [o for o in alone.orders if o.order_type is OrderType.TRAILING_STOP]
    assert stops
    assert {o.trail_bps for o in stops} == {Decimal("12.5")}
    assert Counter(t.exit_reason for t in alone.trades)["trailing"] >= 3


def test_exits_a_strategy_declares_are_checked_with_its_parameters() -> None:
    class Both(Momentum):
        name = "both"

        @classmethod
        def exit_orders(cls, params: StrategyParams) -> ExitOrders | None:
            return ExitOrders(stop_loss_bps=10, trailing_stop_bps=10)

    with pytest.raises(StrategyError, match="a trailing stop cannot sit beside stop-loss / take-profit legs"):
        StrategyInstance.of(Both)
    with pytest.raises(ValueError, match="stop_loss_bps must be between 0 and 10,000"):
        ExitOrders(stop_loss_bps=0)


def test_a_position_held_its_longest_is_closed_and_the_trade_says_time(spy_2011_rth: list[Bar]) -> None:
    longest = TradingConfig(max_holding_minutes=20)
    result = Backtester(BacktestConfig(("momentum",), trading=longest), backtest_handlers).run(
        {"SPY": spy_2011_rth[:6000]}
    )
    timed = [t for t in result.trades if t.exit_reason == "time"]
    assert len(timed) >= 10
    for trade in timed:  # closed by an order decided at the first bar whose close is 20 minutes after the entry
        assert trade.exit_time - trade.entry_time >= timedelta(minutes=20), trade
    others = [t for t in result.trades if t.exit_reason != "time"]
    assert all(t.exit_time - t.entry_time <= timedelta(minutes=22) for t in others), "none outlived its longest hold"
    time_exits = [o for o in result.orders if intent_of(o.client_order_id) == TIME_EXIT]
    assert len(time_exits) >= len(timed)
    strategy = Momentum("SPY")
    answers = {bar.timestamp: strategy.on_bar(bar) for bar in spy_2011_rth[:6000]}
    entries = sorted(
        (o.decision_time, o.side) for o in result.orders if o.decision_time and "-long-" in o.client_order_id
    )
    checked = 0
    for order in time_exits:  # the same answer is not a new entry: the next one follows a change of mind
        assert order.decision_time is not None
        again = next((at for at, side in entries if at > order.decision_time and side is not order.side), None)
        if again is None:
            continue
        between = [d for at, d in answers.items() if order.decision_time < at < again]
        assert any(d is not Direction.LONG for d in between), order.client_order_id
        checked += 1
    assert checked >= 5


def test_order_ids_name_their_intent() -> None:
    coid = client_order_id("momentum", "BRK-B", datetime(2026, 1, 22, 14, 30, tzinfo=UTC), TIME_EXIT)
    assert intent_of(coid) == "time"
    assert intent_of(coid + ".sl") == "time"
    assert intent_of("687d57ad-2401-4fe5-9fb5-89eed08665ce") == ""  # Alpaca's name for a leg: not ours
    assert intent_of("manual") == ""
