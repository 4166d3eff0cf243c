"""The feed's ledger sink against both ledgers: batching, idempotence, revisions, retry after failure."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from quantterminal.adapters.ledger.ledger_sink import LedgerSink
from quantterminal.adapters.ledger.postgres_ledger import PostgresLedger
from quantterminal.adapters.ledger.sqlite_ledger import SqliteLedger
from quantterminal.core.market_data.feed_events import BarSource, BarUpdate
from quantterminal.core.models import Bar

T0 = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)


def update(i: int, close: float = 100.0, source: BarSource = BarSource.PROVIDER) -> BarUpdate:
    return BarUpdate(Bar("SPY", T0 + timedelta(minutes=i), close, close, close, close, 100 + i), source)


def test_bars_are_written_at_once_at_a_trickle_and_in_bigger_batches_under_load(
    ledger: SqliteLedger | PostgresLedger,
) -> None:
    sink = LedgerSink(ledger, batch_size=250)
    sink(update(0))
    assert sink.flush(10)
    assert len(ledger.last_bars("SPY", 10)) == 1
    assert sink.worker.stats.batches == 1
    for i in range(1, 2000):
        sink(update(i))  # far faster than one write per bar
    assert sink.close(30)
    assert len(ledger.last_bars("SPY", 5000)) == 2000
    assert sink.written.inserted == 2000
    assert sink.worker.stats.batches < 1000
    assert sink.worker.stats.largest_batch <= 250


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


def test_a_failed_write_is_retried_with_the_same_bars_and_nothing_is_lost(
    ledger: SqliteLedger | PostgresLedger,
) -> None:
    class Flaky:
        def __init__(self) -> None:
            self.calls = 0

        def ingest_bars(self, bars: list[Bar]) -> object:
            self.calls += 1
            if self.calls <= 2:
                raise ConnectionError("database away")
            return ledger.ingest_bars(bars)

    written: list[Bar] = []
    sink = LedgerSink(Flaky(), on_written=written.extend, retry_base=0.01)  # type: ignore[arg-type]
    for i in range(5):
        sink(update(i))
    assert sink.close(10)
    assert [b.timestamp for b in ledger.last_bars("SPY", 10)] == [T0 + timedelta(minutes=i) for i in range(5)]
    assert [b.timestamp for b in written] == [T0 + timedelta(minutes=i) for i in range(5)]
    assert sink.worker.stats.failures == 2
    assert dataclasses.astuple(sink.written)[0] == 5


def test_a_closed_sink_refuses_more_bars(ledger: SqliteLedger | PostgresLedger) -> None:
    sink = LedgerSink(ledger)
    sink.close()
    with pytest.raises(RuntimeError, match="closed"):
        sink(update(0))


def test_bars_the_ledger_cannot_take_are_quarantined_and_the_rest_written(
    ledger: SqliteLedger | PostgresLedger,
) -> None:
    """A volume beyond 64 bits once blocked the writer forever (the batch was retried without end).
    Now the batch is split, the bad bar kept in quarantine with its reason, and the rest written."""
    sink = LedgerSink(ledger, retry_base=0.001)
    huge = dataclasses.replace(update(3).bar, volume=2**70)
    for i in range(8):
        sink(BarUpdate(huge, BarSource.PROVIDER) if i == 3 else update(i))
    assert sink.flush(10), "the writer is not blocked"
    assert sink.close(10)
    assert sink.written.inserted == 7
    assert sink.quarantined == 1
    (kept,) = ledger.quarantined()
    assert kept.kind == "bar"
    assert "volume" in kept.reason
    assert str(2**70) in kept.record
    assert len(ledger.last_bars("SPY", 100)) == 7
