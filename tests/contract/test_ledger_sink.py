"""The feed's ledger sink against both ledgers: batching, idempotence, revisions, retry after failure."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from quantterminal.adapters.ledger_sink import LedgerSink
from quantterminal.adapters.postgres_ledger import PostgresLedger
from quantterminal.adapters.sqlite_ledger import SqliteLedger
from quantterminal.core.feed_events import BarSource, BarUpdate
from quantterminal.core.models import Bar

T0 = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)


def update(i: int, close: float = 100.0, source: BarSource = BarSource.PROVIDER) -> BarUpdate:
    return BarUpdate(Bar("SPY", T0 + timedelta(minutes=i), close, close, close, close, 100 + i), source)


def test_bars_are_written_in_batches_and_on_close(ledger: SqliteLedger | PostgresLedger) -> None:
    now = [0.0]
    sink = LedgerSink(ledger, batch_size=250, max_delay=timedelta(seconds=5), clock=lambda: now[0])
    for i in range(600):
        sink(update(i))
    assert len(ledger.last_bars("SPY", 1000)) == 500  # two full batches; 100 wait
    now[0] += 6
    sink(update(600))  # the oldest waiting bar is now 6 s old: flushed
    assert len(ledger.last_bars("SPY", 1000)) == 601
    sink(update(601))
    sink.close()
    assert len(ledger.last_bars("SPY", 1000)) == 602
    assert sink.written.inserted == 602


def test_repeats_change_nothing_and_revisions_are_counted(ledger: SqliteLedger | PostgresLedger) -> None:
    sink = LedgerSink(ledger, batch_size=10)
    for i in range(10):
        sink(update(i))
    for i in range(10):
        sink(update(i))  # a provider repeat after a reconnect
    sink(update(3, close=101.0, source=BarSource.REVISION))
    sink.close()
    assert sink.written.inserted == 10
    assert sink.written.unchanged == 10
    assert sink.written.revised == 1
    assert ledger.bar_revision("SPY", T0 + timedelta(minutes=3)) == 1


def test_a_failed_write_keeps_the_buffer_for_the_next_flush(ledger: SqliteLedger | PostgresLedger) -> None:
    class Flaky:
        def __init__(self) -> None:
            self.calls = 0

        def ingest_bars(self, bars: list[Bar]) -> object:
            self.calls += 1
            if self.calls == 1:
                raise ConnectionError("database away")
            return ledger.ingest_bars(bars)

    sink = LedgerSink(Flaky(), batch_size=100)  # type: ignore[arg-type]
    for i in range(5):
        sink(update(i))
    with pytest.raises(ConnectionError):
        sink.flush()
    sink.close()
    assert len(ledger.last_bars("SPY", 10)) == 5
    assert dataclasses.astuple(sink.written)[0] == 5
