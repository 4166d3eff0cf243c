"""The Redis state store (ElastiCache in AWS), on redis-py.

Each record is a hash ``{doc, ver, tok}``. Compare-and-set is one Lua script, so it is atomic on
the server. Connection errors are retried by redis-py with exponential backoff and jitter; a
retried CAS whose first attempt did land but whose reply was lost is recognised by its write
token (``tok``) and reported as the success it was, never applied twice.

Keys put the account in braces (``qt:pos:{acct}:...``) so that a record and its index set share
a hash slot on clustered Redis.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

from quantterminal.adapters.state.state_base import VersionedStateStore

_CAS = """
local ver = tonumber(redis.call('HGET', KEYS[1], 'ver') or '0')
local expected = tonumber(ARGV[1])
if ver ~= expected then
  if ver == expected + 1 and redis.call('HGET', KEYS[1], 'tok') == ARGV[4] then return 1 end
  return 0
end
redis.call('HSET', KEYS[1], 'doc', ARGV[2], 'ver', expected + 1, 'tok', ARGV[4])
local ttl = tonumber(ARGV[3])
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
if KEYS[2] then redis.call('SADD', KEYS[2], KEYS[1]) end
return 1
"""

_PUT = """
redis.call('HSET', KEYS[1], 'doc', ARGV[1], 'tok', '')
redis.call('HINCRBY', KEYS[1], 'ver', 1)
local ttl = tonumber(ARGV[2])
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
return 1
"""

_DELETE = """
local n = redis.call('DEL', KEYS[1])
if KEYS[2] then redis.call('SREM', KEYS[2], KEYS[1]) end
return n
"""


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _stored(doc: str | bytes | None, ver: str | bytes | None) -> tuple[str | None, int]:
    """A record's ``HMGET doc ver`` answer as (document, version); ``(None, 0)`` when absent."""
    return (None, 0) if doc is None else (_text(doc), int(_text(ver or "0")))


class RedisStateStore(VersionedStateStore):
    """State in Redis at ``url`` (``redis://`` or ``rediss://`` for TLS), keys under ``prefix``."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        prefix: str = "qt",
        max_attempts: int = 50,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        client: redis.Redis | None = None,
    ) -> None:
        super().__init__(prefix, max_attempts, clock, sleep)
        self.client: redis.Redis = client or redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=5,
            socket_connect_timeout=5,
            health_check_interval=30,
            retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=2.0), retries=4),
            retry_on_error=[redis.ConnectionError, redis.TimeoutError],
        )
        self._cas_script: Any = self.client.register_script(_CAS)
        self._put_script: Any = self.client.register_script(_PUT)
        self._delete_script: Any = self.client.register_script(_DELETE)

    def _read(self, key: str) -> tuple[str | None, int]:
        return _stored(*self.client.hmget(key, ["doc", "ver"]))

    def _cas(self, key: str, doc: str, expected: int, ttl: int | None, index: str | None) -> bool:
        keys = [key] if index is None else [key, index]
        token = uuid.uuid4().hex
        return bool(self._cas_script(keys=keys, args=[expected, doc, ttl or 0, token]))

    def _reads(self, keys: Sequence[str | bytes]) -> Any:
        """A pipeline with the read of each of ``keys`` queued (one round trip when executed)."""
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.hmget(key, ["doc", "ver"])
        return pipe

    def _read_many(self, keys: Sequence[str]) -> list[tuple[str | None, int]]:
        return [_stored(doc, ver) for doc, ver in self._reads(keys).execute()]

    def _put_many(self, items: Sequence[tuple[str, str]], ttl: int | None) -> None:
        pipe = self.client.pipeline(transaction=False)
        for key, doc in items:
            self._put_script(keys=[key], args=[doc, ttl or 0], client=pipe)
        pipe.execute()

    def _put(self, key: str, doc: str, ttl: int | None) -> None:
        # Idempotent as a whole (a retried put stores the same doc), so no write token is needed.
        self._put_script(keys=[key], args=[doc, ttl or 0])

    def _delete(self, key: str, index: str | None) -> bool:
        keys = [key] if index is None else [key, index]
        return bool(self._delete_script(keys=keys))

    def _members(self, index: str) -> list[tuple[str, str, int]]:
        return self._member_records(index, self.client.smembers(index))

    def _read_many_and_members(
        self, keys: Sequence[str], index: str
    ) -> tuple[list[tuple[str | None, int]], list[tuple[str, str, int]]]:
        # one round trip for the keys and the index (a bar's reads); a second only if it has members
        *found, members = self._reads(keys).smembers(index).execute()
        return [_stored(doc, ver) for doc, ver in found], self._member_records(index, members)

    def _member_records(self, index: str, members: set[str] | set[bytes | str]) -> list[tuple[str, str, int]]:
        """``(key, doc, version)`` of the live ``members`` of ``index``, read in one round trip."""
        keys = sorted(members)
        if not keys:
            return []
        found, gone = [], []
        for key, (doc, ver) in zip(keys, self._reads(keys).execute(), strict=True):
            if doc is None:
                gone.append(key)
            else:
                found.append((_text(key), _text(doc), int(_text(ver or "0"))))
        if gone:
            self.client.srem(index, *gone)  # expired records leave their index lazily
        return found

    def _ttl(self, key: str) -> float | None:
        ttl = self.client.pttl(key)
        return None if ttl < 0 else ttl / 1000.0

    def ping(self) -> bool:
        """True when the server answers."""
        return bool(self.client.ping())

    def close(self) -> None:
        """Release the connection pool."""
        self.client.close()
