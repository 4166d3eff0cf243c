"""Bars from the feed into the ledger in batches (COPY on PostgreSQL), and back out of it idempotently.

Updates are buffered and written when ``batch_size`` bars are waiting, when the oldest has waited
``max_delay``, or on ``flush``/``close``. The ledger's upsert makes every write idempotent: a bar
written twice changes nothing, a provider revision replaces the stored bar and bumps its revision
count, and a failed write keeps the buffer so the next flush tries again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from quantterminal.core.feed_events import BarUpdate
from quantterminal.core.models import Bar
from quantterminal.core.ports import Ledger
from quantterminal.core.records import IngestReport


class LedgerSink:
    """A batching writer of bar updates into a ``Ledger``."""

    def __init__(
        self,
        ledger: Ledger,
        batch_size: int = 500,
        max_delay: timedelta = timedelta(seconds=1),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ledger = ledger
        self.batch_size = batch_size
        self.max_delay = max_delay.total_seconds()
        self.clock = clock
        self._buffer: list[Bar] = []
        self._oldest: float | None = None
        self.written = IngestReport()

    def __call__(self, update: BarUpdate) -> None:
        """Take one update (the sink is a plain callable, like every feed consumer)."""
        if not self._buffer:
            self._oldest = self.clock()
        self._buffer.append(update.bar)
        if len(self._buffer) >= self.batch_size or self.clock() - (self._oldest or 0) >= self.max_delay:
            self.flush()

    def flush(self) -> IngestReport:
        """Write what is buffered; on failure the buffer is kept for the next try."""
        if not self._buffer:
            return IngestReport()
        report = self.ledger.ingest_bars(self._buffer)
        self._buffer = []
        self._oldest = None
        w = self.written
        self.written = IngestReport(
            w.inserted + report.inserted, w.revised + report.revised, w.unchanged + report.unchanged
        )
        return report

    def close(self) -> IngestReport:
        """Flush what is left."""
        return self.flush()
