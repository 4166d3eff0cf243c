"""The session rule inside the kernel, on its real parts (desk, engines, risk gate, simulated
broker, in-process state): which strategies see a pre-market bar, and what happens to a decision
on the session's last minute."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from quantterminal.adapters.broker.simulated_broker import SimulatedBroker, SimulatorConfig
from quantterminal.adapters.state.memory_state import MemoryStateStore
from quantterminal.core.accounting.orders import OrderType
from quantterminal.core.market_data.feed_events import BarSource, BarUpdate
from quantterminal.core.models import Bar, Direction
from quantterminal.core.simulation.fill_model import FillModel
from quantterminal.core.strategies import Strategy, StrategyError, StrategyInstance, StrategyParams
from quantterminal.core.trading.config import TradingConfig
from quantterminal.core.trading.desk import TradingDesk
from quantterminal.core.trading.kernel import KernelHandlers, KernelSpec, build_kernel

MINUTE = timedelta(minutes=1)
# Friday 2013-10-04 New York (EDT, UTC-4): pre-market 08:00, the last regular minute 15:59
PRE_MARKET = datetime(2013, 10, 4, 12, 0, tzinfo=UTC)
LAST_MINUTE = datetime(2013, 10, 4, 19, 59, tzinfo=UTC)
NEXT_OPEN = datetime(2013, 10, 7, 13, 30, tzinfo=UTC)  # Monday 09:30


class AlwaysLong(Strategy):
    """Wants to be long from its first bar on; counts the bars it saw."""

    name = "always_long"
    params_type = StrategyParams

    def __init__(self, symbol: str, params: StrategyParams | None = None) -> None:
        super().__init__(symbol, params)
        self.seen = 0

    def on_bar(self, bar: Bar) -> Direction | None:
        self.seen += 1
        return Direction.LONG

    def _state(self) -> dict[str, int]:
        return {"seen": self.seen}

    def _load_state(self, state: dict[str, int]) -> None:
        self.seen = state["seen"]


def desk(*instances: StrategyInstance, order_type: OrderType = OrderType.MARKET) -> tuple[TradingDesk, SimulatedBroker]:
    store = MemoryStateStore()
    broker = SimulatedBroker(SimulatorConfig(fills=FillModel(participation=None)))
    trading_desk = build_kernel(
        KernelSpec("paper", instances, TradingConfig(type=order_type)), KernelHandlers(store, broker)
    )
    broker.on_update(trading_desk.on_update)
    return trading_desk, broker


def at(ts: datetime, close: float = 100.0) -> Bar:
    return Bar("SPY", ts, close, close, close, close, 10_000)


def seen(trading_desk: TradingDesk, name: str) -> int:
    snapshot = trading_desk.store.load_snapshot(name, "SPY")
    return 0 if snapshot is None else int(snapshot["state"]["seen"])


def test_a_pre_market_bar_reaches_only_the_strategies_that_asked_for_extended_hours() -> None:
    regular = StrategyInstance.of(AlwaysLong, name="regular")
    extended = StrategyInstance.of(AlwaysLong, name="extended", session="extended")
    both, _ = desk(regular, extended)
    only_regular, _ = desk(regular)

    outcome = both.step(BarUpdate(at(PRE_MARKET), BarSource.PROVIDER), PRE_MARKET + MINUTE)

    assert both.admits(at(PRE_MARKET))
    assert not only_regular.admits(at(PRE_MARKET)), "an account of regular-session strategies never sees it"
    assert set(outcome.decisions) == {"extended"}
    assert (seen(both, "regular"), seen(both, "extended")) == (0, 1)
    # the extended-hours strategy decided, but no order goes out before the session
    assert outcome.decisions["extended"].note == "market closed: no order"
    assert both.store.open_orders("paper") == []


def test_a_decision_on_the_last_minute_is_placed_at_the_close_and_fills_at_the_next_open() -> None:
    trading_desk, broker = desk(StrategyInstance.of(AlwaysLong))

    outcome = trading_desk.step(BarUpdate(at(LAST_MINUTE), BarSource.PROVIDER), LAST_MINUTE + MINUTE)

    placed = outcome.decisions["always_long"].placed
    assert placed is not None, outcome.decisions["always_long"].note
    broker.on_bar(at(LAST_MINUTE + MINUTE, 101.0), in_session=False)  # an after-hours print works nothing
    assert broker.fills == []
    broker.on_bar(at(NEXT_OPEN, 102.0))
    assert [(f.timestamp.replace(microsecond=0), f.price) for f in broker.fills] == [(NEXT_OPEN, Decimal(102))]


def test_an_extended_hours_instance_decides_on_minute_bars_only() -> None:
    with pytest.raises(StrategyError, match="extended hours are for 1-minute strategies"):
        replace(StrategyInstance.of(AlwaysLong), session="extended", timeframe="5min")
    with pytest.raises(StrategyError, match="session 'overnight'"):
        StrategyInstance.of(AlwaysLong, session="overnight")
