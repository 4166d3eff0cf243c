"""Bars from the feed into the ledger (COPY on PostgreSQL for big batches), idempotently.

A background ``BatchWorker`` writes whatever has queued since its last write, so a bar reaches the
database within one round trip at a trickle and batches grow under load. The ledger's upsert makes
every write idempotent: a bar written twice changes nothing, a provider revision replaces the
stored bar and bumps its revision count, and a failed write is retried with the same bars.

A batch the ledger refuses for its content (``LedgerError``: a value out of range, a bar that fails
validation) is not retried -- it would fail forever and block every bar behind it. It is split
until the bars that cannot be written are found; those are quarantined in the ledger with the
reason (``qterm db quarantine`` lists them) and the rest are written.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict

from quantterminal.adapters.streams.batching import BatchWorker
from quantterminal.core.market_data.feed_events import BarUpdate
from quantterminal.core.market_data.ports import IngestReport
from quantterminal.core.models import Bar
from quantterminal.core.ports import Ledger
from quantterminal.errors import LedgerError

log = logging.getLogger(__name__)


class LedgerSink:
    """A feed consumer (a plain callable of ``BarUpdate``) writing bars into a ``Ledger``."""

    def __init__(
        self,
        ledger: Ledger,
        batch_size: int = 5000,
        on_written: Callable[[list[Bar]], None] | None = None,
        retry_base: float = 0.05,
    ) -> None:
        self.ledger = ledger
        self.written = IngestReport()
        self.quarantined = 0
        self._lock = threading.Lock()
        self.worker: BatchWorker[Bar] = BatchWorker(
            self._write, "ledger", batch_size, on_written=on_written, retry_base=retry_base
        )

    def __call__(self, update: BarUpdate) -> None:
        """Take one update."""
        self.worker.submit(update.bar)

    def _ingest(self, bars: list[Bar]) -> IngestReport:
        """Write ``bars``; the ones the ledger refuses for their content go to quarantine."""
        try:
            return self.ledger.ingest_bars(bars)
        except LedgerError as exc:
            if len(bars) == 1:
                bar = bars[0]
                record = json.dumps(asdict(bar), default=str)
                self.ledger.quarantine("bar", str(exc), record)
                self.quarantined += 1
                log.error("bar quarantined (%s): %s", exc, record[:200])
                return IngestReport()
        half = len(bars) // 2
        first, second = self._ingest(bars[:half]), self._ingest(bars[half:])
        return IngestReport(
            first.inserted + second.inserted, first.revised + second.revised, first.unchanged + second.unchanged
        )

    def _write(self, bars: list[Bar]) -> None:
        report = self._ingest(bars)
        with self._lock:
            w = self.written
            self.written = IngestReport(
                w.inserted + report.inserted, w.revised + report.revised, w.unchanged + report.unchanged
            )

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until every bar taken so far is in the ledger."""
        return self.worker.drain(timeout)

    def close(self, timeout: float = 30.0) -> bool:
        """Write what is left and stop the writer."""
        return self.worker.close(timeout)
