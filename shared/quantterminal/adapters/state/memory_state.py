"""The in-process state store: the embedded twin of the Redis store, for laptops and tests.

Thread-safe. Documents are kept as the same JSON text Redis would hold, with the same versions and
expiry rules, so it behaves like ``RedisStateStore`` in everything the contract tests check.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from quantterminal.adapters.state.state_base import VersionedStateStore


class MemoryStateStore(VersionedStateStore):
    """State in a dict; ``now`` (seconds) decides expiry and can be replaced in tests."""

    def __init__(
        self,
        prefix: str = "qt",
        max_attempts: int = 50,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(prefix, max_attempts, clock=lambda: datetime.fromtimestamp(now(), UTC), sleep=sleep)
        self._now = now
        self._lock = threading.Lock()
        self._docs: dict[str, tuple[str, int, float | None]] = {}  # key -> (doc, version, expires at)
        self._indexes: dict[str, set[str]] = {}

    def _live(self, key: str) -> tuple[str, int, float | None] | None:
        entry = self._docs.get(key)
        if entry is not None and entry[2] is not None and entry[2] <= self._now():
            del self._docs[key]
            return None
        return entry

    def _read(self, key: str) -> tuple[str | None, int]:
        with self._lock:
            entry = self._live(key)
            return (None, 0) if entry is None else (entry[0], entry[1])

    def _cas(self, key: str, doc: str, expected: int, ttl: int | None, index: str | None) -> bool:
        with self._lock:
            entry = self._live(key)
            if (entry[1] if entry else 0) != expected:
                return False
            self._docs[key] = (doc, expected + 1, None if ttl is None else self._now() + ttl)
            if index is not None:
                self._indexes.setdefault(index, set()).add(key)
            return True

    def _put(self, key: str, doc: str, ttl: int | None) -> None:
        with self._lock:
            entry = self._live(key)
            version = (entry[1] if entry else 0) + 1
            self._docs[key] = (doc, version, None if ttl is None else self._now() + ttl)

    def _delete(self, key: str, index: str | None) -> bool:
        with self._lock:
            existed = self._live(key) is not None
            self._docs.pop(key, None)
            if index is not None:
                self._indexes.get(index, set()).discard(key)
            return existed

    def _members(self, index: str) -> list[tuple[str, str, int]]:
        with self._lock:
            keys = self._indexes.get(index, set())
            found = []
            for key in sorted(keys):
                entry = self._live(key)
                if entry is not None:
                    found.append((key, entry[0], entry[1]))
            keys.intersection_update(k for k, _, _ in found)
            return found

    def _ttl(self, key: str) -> float | None:
        with self._lock:
            entry = self._live(key)
            return None if entry is None or entry[2] is None else entry[2] - self._now()
