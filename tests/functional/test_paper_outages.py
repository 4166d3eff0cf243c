"""The paper run's trading side through outages of its state store and ledger: every bar is still
decided, every update booked, and broker = state store = ledger at the end, with the same orders
and fills as a run that saw no outage. The outage strikes at an arbitrary call inside the kernel's
work (mid-step: after a snapshot was saved, before the order was recorded, ...), and the clock and
the waits are driven by the test, so nothing depends on how busy the machine is."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from quantterminal.adapters.broker.simulated_account import SimulatorConfig, StoreJournal
from quantterminal.adapters.broker.simulated_broker import SimulatedBroker
from quantterminal.adapters.ledger.sqlite_ledger import SqliteLedger
from quantterminal.adapters.state.memory_state import MemoryStateStore
from quantterminal.adapters.streams.bus import LocalBus
from quantterminal.core.market_data.feed_events import BarSource, BarUpdate
from quantterminal.core.models import Bar
from quantterminal.core.trading.feed_codec import encode_bar_update
from quantterminal.wiring.outages import OutageGuard, TradingStoppedError
from quantterminal.wiring.paper import BARS, PaperTrader
from quantterminal.wiring.runtime import Runtime
from tests.paper_books import EVER, check_books


class Outage:
    """Decides when the services are away: after ``after`` more calls, for ``length`` waits."""

    def __init__(self) -> None:
        self.countdown: int | None = None
        self.length = 0
        self.left = 0
        self.failed_calls = 0

    def arm(self, after: int, length: int) -> None:
        self.countdown, self.length = after, length

    def check(self) -> None:
        if self.countdown is not None:
            self.countdown -= 1
            if self.countdown <= 0:
                self.countdown, self.left = None, self.length
        if self.left > 0:
            self.failed_calls += 1
            raise ConnectionError("simulated outage: connection refused")

    def waited(self) -> None:
        self.left = max(0, self.left - 1)


class Flaky:
    """A service whose every call goes through ``outage.check`` first."""

    def __init__(self, inner: Any, outage: Outage) -> None:
        self._inner, self._outage = inner, outage

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            self._outage.check()
            return value(*args, **kwargs)

        return call


def paper_run(
    bars: dict[str, list[Bar]], tmp: Path, outage: Outage, schedule: Callable[[int], None], budget: float = 60
) -> tuple[PaperTrader, MemoryStateStore, SqliteLedger]:
    store, ledger = MemoryStateStore(), SqliteLedger(tmp / "ledger.sqlite3")
    ledger.migrate()
    flaky_store, flaky_ledger = Flaky(store, outage), Flaky(ledger, outage)
    broker = SimulatedBroker(SimulatorConfig(), journal=StoreJournal(flaky_store, "paper"))
    runtime = Runtime.build(flaky_store, flaky_ledger, broker, account="paper", symbols=tuple(bars))
    clock = [0.0]

    def pause(seconds: float) -> None:
        clock[0] += seconds
        outage.waited()

    guard = OutageGuard(budget_seconds=budget, clock=lambda: clock[0], pause=pause)
    trader = PaperTrader(runtime, LocalBus(), replay_clock=True, guard=guard)
    merged = sorted((b for series in bars.values() for b in series), key=lambda b: (b.timestamp, b.symbol))
    for n, bar in enumerate(merged):
        schedule(n)
        trader.on_bar_record(encode_bar_update(BarUpdate(bar, BarSource.PROVIDER)))
    trader.finish()
    return trader, store, ledger


def trades(ledger: SqliteLedger) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    orders = [(o.client_order_id, o.side, o.qty, o.limit_price) for o in ledger.orders_between(*EVER)]
    fills = [(f.order_id, f.execution_id, f.qty, f.price) for f in ledger.fills_between(*EVER)]
    return sorted(orders), sorted(fills)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_outages_of_the_store_and_ledger_delay_work_but_lose_none(
    tmp_path: Path, lean_2013_rth: dict[str, list[Bar]], seed: int
) -> None:
    bars = {s: series[:700] for s, series in lean_2013_rth.items()}
    (tmp_path / "calm").mkdir()
    _, _, calm_ledger = paper_run(bars, tmp_path / "calm", Outage(), lambda n: None)
    expected = trades(calm_ledger)
    calm_ledger.close()

    # The services go away every ~150 bars, at an arbitrary call of the kernel's work, for a while
    outage = Outage()
    (tmp_path / "blips").mkdir()

    def schedule(n: int) -> None:
        if n % 150 == 75:
            outage.arm(after=1 + (n * seed) % 37, length=3 + seed)

    trader, store, ledger = paper_run(bars, tmp_path / "blips", outage, schedule)
    assert outage.failed_calls > 0, "the outages struck"
    record = trader.guard.record
    assert record.outages >= 4
    assert record.delayed >= record.outages
    assert trader.failure is None
    assert trader.stats.bars == sum(len(s) for s in bars.values()), "every bar decided"
    assert trades(ledger) == expected, "the same orders and fills as without outages"
    books = check_books(ledger, store, "paper")
    assert books.problems == []
    assert books.fills_in_ledger > 10
    ledger.close()


def test_an_outage_past_the_budget_stops_trading_loudly(tmp_path: Path, lean_2013_rth: dict[str, list[Bar]]) -> None:
    store, ledger = MemoryStateStore(), SqliteLedger(tmp_path / "ledger.sqlite3")
    ledger.migrate()
    outage = Outage()
    runtime = Runtime.build(Flaky(store, outage), Flaky(ledger, outage), SimulatedBroker(), account="paper")
    clock = [0.0]

    def pause(seconds: float) -> None:
        clock[0] += seconds

    bus = LocalBus()
    trader = PaperTrader(runtime, bus, replay_clock=True, guard=OutageGuard(5, lambda: clock[0], pause))
    spy = lean_2013_rth["SPY"][:50]
    bus.stream(BARS).put([("SPY", encode_bar_update(BarUpdate(b, BarSource.PROVIDER))) for b in spy])
    outage.arm(after=200, length=10**9)  # gone for good, somewhere in the run
    stop = threading.Event()
    stop.set()  # consume what is there, then return
    trader.run(stop)
    assert trader.failed.is_set()
    assert isinstance(trader.failure, TradingStoppedError)
    assert "budget 5 s" in str(trader.failure)
    assert "ConnectionError" in str(trader.failure)
    assert trader.stats.bars < len(spy), "a partial run is not counted as complete"
    ledger.close()
