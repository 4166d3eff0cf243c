"""Riding out a service outage in a long-running process: wait, retry, and say what it cost.

A local paper run books and decides in one thread, as one Lambda per shard does. When PostgreSQL
or Redis blinks, the Lambda's batch is retried by Kinesis; here ``OutageGuard.attempt`` plays that
part: the same work is tried again (with jittered backoff) until it succeeds, so nothing is
skipped -- the kernel's work is idempotent by design (deterministic client order ids, updates
merged by facts, snapshots keyed by bar). Only an outage longer than the budget stops the run, and
then loudly (``TradingStoppedError``), never by dropping the work.

It also keeps the record a user needs afterwards: how many pieces of work were delayed, how often
and for how long the services were away.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from quantterminal.adapters.retry import backoff_delay

log = logging.getLogger(__name__)
T = TypeVar("T")

OUTAGE_BUDGET_SECONDS = 300.0  # how long a run waits for its services before it stops


class TradingStoppedError(RuntimeError):
    """The run cannot go on (a service stayed away past the budget, or a thread failed)."""


@dataclass
class OutageRecord:
    """What outages cost a run so far."""

    outages: int = 0  # separate periods of failure
    delayed: int = 0  # pieces of work that waited for a service (each counted once)
    retries: int = 0
    longest_seconds: float = 0.0
    total_seconds: float = 0.0

    def describe(self) -> str:
        if not self.outages:
            return "no outage"
        return (
            f"{self.outages} outage(s), {self.delayed} piece(s) of work delayed "
            f"(longest {self.longest_seconds:.1f} s, {self.total_seconds:.1f} s in all); nothing skipped"
        )


class OutageGuard:
    """Retries work through outages (see the module docs). ``clock`` (monotonic seconds) and
    ``pause`` are injectable so a test drives the outage without waiting."""

    def __init__(
        self,
        budget_seconds: float = OUTAGE_BUDGET_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        pause: Callable[[float], None] = time.sleep,
        base_delay: float = 0.05,
        max_delay: float = 2.0,
    ) -> None:
        self.budget_seconds = budget_seconds
        self.clock = clock
        self.pause = pause
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.record = OutageRecord()
        self._down_since: float | None = None

    def status(self) -> str:
        """The health line's words: an outage under way (how long so far), then the record."""
        down = self.down_for
        now = "" if down is None else f"services down for {down:.0f} s, waiting; "
        return now + self.record.describe()

    @property
    def down_for(self) -> float | None:
        """Seconds the current outage has lasted (``None``: the services answer)."""
        return None if self._down_since is None else self.clock() - self._down_since

    def attempt(self, work: Callable[[], T], what: str, permanent: tuple[type[BaseException], ...] = ()) -> T:
        """``work()``, retried while it fails with anything but ``permanent`` errors (those are the
        work's own fault: raised at once). ``TradingStoppedError`` once the outage passes the budget."""
        attempt = 0
        while True:
            try:
                result = work()
            except permanent:
                raise
            except Exception as exc:
                self._failed(exc, what, first=attempt == 0)
                self.pause(backoff_delay(attempt, self.base_delay, self.max_delay))
                attempt += 1
                self.record.retries += 1
                continue
            if self._down_since is not None:
                self._recovered(what)
            return result

    def _failed(self, exc: Exception, what: str, first: bool) -> None:
        now = self.clock()
        if self._down_since is None:
            self._down_since = now
            self.record.outages += 1
            log.warning("services unavailable while %s, waiting: %s", what, _first_line(exc))
        if first:
            self.record.delayed += 1
        if now - self._down_since > self.budget_seconds:
            raise TradingStoppedError(
                f"{what} failed for {now - self._down_since:.0f} s (budget {self.budget_seconds:.0f} s): "
                f"{_first_line(exc)}"
            ) from exc

    def _recovered(self, what: str) -> None:
        assert self._down_since is not None
        lasted = self.clock() - self._down_since
        self._down_since = None
        self.record.total_seconds += lasted
        self.record.longest_seconds = max(self.record.longest_seconds, lasted)
        log.warning("services back after %.1f s (%s)", lasted, what)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__
