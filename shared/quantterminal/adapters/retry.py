"""Retries with exponential backoff and full jitter, for every call that leaves the process."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


MAX_DOUBLINGS = 60  # 2^60 × any base passes any cap; 2^1024 would not even be a float


def capped_exponential(attempt: int, base: float, cap: float) -> float:
    """``min(cap, base × 2^attempt)`` for any ``attempt``, however many hours of failures it counts."""
    return min(cap, base * 2.0 ** min(max(attempt, 0), MAX_DOUBLINGS))


def backoff_delay(attempt: int, base: float = 0.05, cap: float = 5.0, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based): uniform in
    ``[0, min(cap, base × 2^attempt)]`` ("full jitter"), so that many clients retrying after the
    same failure spread out instead of hammering the server together."""
    return (rng or random).uniform(0.0, capped_exponential(attempt, base, cap))


def patient_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """A long wait (after a refusal: bad keys, a connection limit) that stays long: uniform in
    ``[d/2, d]`` for ``d = min(cap, base × 2^attempt)`` ("equal jitter"), so processes refused
    together do not come back together, yet none retries early."""
    delay = capped_exponential(attempt, base, cap)
    return (rng or random).uniform(delay / 2, delay)


def rate_limit_wait(headers: Mapping[str, str], now: float) -> float | None:
    """The seconds a rate-limited server asks for: its ``Retry-After``, else the time until its
    ``X-RateLimit-Reset`` (Unix seconds, as Alpaca sends it; ``now`` is ``time.time()``). ``None``
    when it says neither readably (the caller's backoff stands)."""
    try:
        if headers.get("Retry-After"):
            return float(headers["Retry-After"])
        if headers.get("X-RateLimit-Reset"):
            return float(headers["X-RateLimit-Reset"]) - now
    except ValueError:
        pass
    return None


def with_retries(
    call: Callable[[], T],
    retry_on: tuple[type[BaseException], ...],
    attempts: int = 4,
    base: float = 0.05,
    cap: float = 5.0,
    what: str = "call",
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``call``; on one of ``retry_on`` wait ``backoff_delay`` and try again, at most
    ``attempts`` times in all, then re-raise the last error. Only for idempotent calls."""
    for attempt in range(attempts):
        try:
            return call()
        except retry_on as exc:
            if attempt == attempts - 1:
                raise
            delay = backoff_delay(attempt, base, cap)
            log.warning(
                "%s failed (%s: %s); retry %d/%d in %.2fs",
                what,
                type(exc).__name__,
                str(exc).strip(),
                attempt + 1,
                attempts - 1,
                delay,
            )
            sleep(delay)
    raise AssertionError("unreachable")
