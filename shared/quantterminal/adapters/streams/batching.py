"""A background writer that batches naturally: each write takes everything that queued up while
the previous write was running (up to ``max_batch``).

At a trickle every item is written at once (lowest latency); under load batches grow and the
per-write overhead is shared (highest throughput) -- no timer to tune. A failed write is retried
with backoff, the same batch in the same order, until it succeeds or the worker is closed; items
are never dropped or reordered while the process lives.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from quantterminal.adapters.retry import backoff_delay

log = logging.getLogger(__name__)
T = TypeVar("T")
_CLOSE = object()


@dataclass
class BatchStats:
    """Items and batches written, failed attempts, items still waiting."""

    written: int = 0
    batches: int = 0
    failures: int = 0
    largest_batch: int = 0


class BatchWorker(Generic[T]):
    """``submit`` items from any thread; one background thread calls ``write(batch)``."""

    def __init__(
        self,
        write: Callable[[list[T]], object],
        name: str,
        max_batch: int = 500,
        on_written: Callable[[list[T]], None] | None = None,
        retry_base: float = 0.05,
        retry_cap: float = 5.0,
    ) -> None:
        self._write = write
        self.name = name
        self.max_batch = max_batch
        self.on_written = on_written
        self.retry_base, self.retry_cap = retry_base, retry_cap
        self.stats = BatchStats()
        self._queue: queue.Queue[object] = queue.Queue()
        self._idle = threading.Condition()
        self._pending = 0  # submitted, not yet written
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"batch-{name}", daemon=True)
        self._thread.start()

    def submit(self, item: T) -> None:
        """Queue ``item`` for writing."""
        if self._closing.is_set():
            raise RuntimeError(f"{self.name} writer is closed")
        with self._idle:
            self._pending += 1
        self._queue.put(item)

    @property
    def pending(self) -> int:
        """Items submitted and not yet written."""
        return self._pending

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far is written; False if ``timeout`` ran out."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self, timeout: float = 30.0) -> bool:
        """Write what is queued, then stop; False if it could not all be written in ``timeout``."""
        done = self.drain(timeout)
        self._closing.set()
        self._queue.put(_CLOSE)
        self._thread.join(timeout)
        if not done:
            log.error("%s writer closed with %d item(s) unwritten", self.name, self._pending)
        return done

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _CLOSE:
                return
            batch: list[T] = [first]  # type: ignore[list-item]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _CLOSE:
                    stop = True
                    break
                batch.append(item)  # type: ignore[arg-type]
            self._write_until_done(batch)
            if stop:
                return

    def _write_until_done(self, batch: list[T]) -> None:
        attempt = 0
        while True:
            try:
                self._write(batch)
                break
            except Exception as exc:  # any failure of the destination: keep the batch, retry
                self.stats.failures += 1
                if self._closing.is_set():
                    log.error("%s writer: giving up on %d item(s) at close: %s", self.name, len(batch), exc)
                    return
                delay = backoff_delay(attempt, self.retry_base, self.retry_cap)
                log.warning("%s write of %d item(s) failed (%s); retry in %.2f s", self.name, len(batch), exc, delay)
                attempt += 1
                time.sleep(delay)
        self.stats.written += len(batch)
        self.stats.batches += 1
        self.stats.largest_batch = max(self.stats.largest_batch, len(batch))
        if self.on_written is not None:
            self.on_written(batch)
        with self._idle:
            self._pending -= len(batch)
            self._idle.notify_all()
