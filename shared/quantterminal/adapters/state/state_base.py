"""The typed state-store API, written once over four storage primitives.

``RedisStateStore`` and ``MemoryStateStore`` implement only ``_read``, ``_cas``, ``_put``,
``_delete``, ``_members`` and ``_ttl``; everything the system relies on -- encoding, validation, key layout,
expiry rules and the compare-and-set retry loop -- lives here, so the twins cannot drift apart.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from quantterminal.adapters.retry import backoff_delay
from quantterminal.core.accounting.orders import Order
from quantterminal.core.accounting.ports import BarState
from quantterminal.core.accounting.state import PositionState, RiskState, StateError, decode_snapshot, encode_snapshot

IDLE_TTL_SECONDS = 7 * 24 * 3600  # flat positions and idle strategy snapshots
_BACKOFF_CAP = 0.1  # seconds; with 50 attempts, four writers hammering one key never starved one
_FORBIDDEN_IN_KEYS = frozenset(":{}\n\r\t ")

R = TypeVar("R", PositionState, Order, RiskState)
_DECODED_MAX = 4_096  # decoded records kept (a few per position and open order)


def _order_id(order: Order) -> str:
    return order.client_order_id


class ConcurrencyError(RuntimeError):
    """A compare-and-set update lost to other writers more often than the retry budget allows."""


def _key_part(name: str, value: object) -> str:
    if not isinstance(value, str) or not value or _FORBIDDEN_IN_KEYS & set(value):
        raise StateError(f"{name} must be a non-empty string without ':', braces or spaces, got {value!r}")
    return value


class VersionedStateStore(ABC):
    """State records stored as versioned JSON documents, updated by compare-and-set."""

    def __init__(
        self,
        prefix: str = "qt",
        max_attempts: int = 50,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.prefix = _key_part("prefix", prefix)
        self.max_attempts = max_attempts
        self.clock = clock
        self._sleep = sleep
        # Decoded records by (kind, stored text, version): the same document is read many times a
        # bar, and identical text always decodes to the identical (frozen) record.
        self._decoded: dict[tuple[type, str, int], Any] = {}

    # --- primitives ---------------------------------------------------------------------------

    @abstractmethod
    def _read(self, key: str) -> tuple[str | None, int]:
        """The stored document and its version; ``(None, 0)`` when absent or expired."""

    @abstractmethod
    def _cas(self, key: str, doc: str, expected: int, ttl: int | None, index: str | None) -> bool:
        """Store ``doc`` as version ``expected + 1`` if the stored version is ``expected``; set the
        time to live (``None``: never expires) and add ``key`` to the ``index`` set."""

    @abstractmethod
    def _put(self, key: str, doc: str, ttl: int | None) -> None:
        """Store ``doc`` whatever is there, bumping the version, in one round trip (for values
        that are simply replaced: strategy snapshots, named documents)."""

    def _read_many(self, keys: Sequence[str]) -> list[tuple[str | None, int]]:
        """``_read`` of each key (a store that can do it in one round trip overrides this)."""
        return [self._read(key) for key in keys]

    def _put_many(self, items: Sequence[tuple[str, str]], ttl: int | None) -> None:
        """``_put`` of each (key, doc) (a store that can do it in one round trip overrides this)."""
        for key, doc in items:
            self._put(key, doc, ttl)

    def _read_many_and_members(
        self, keys: Sequence[str], index: str
    ) -> tuple[list[tuple[str | None, int]], list[tuple[str, str, int]]]:
        """``_read_many(keys)`` and ``_members(index)`` (a store that can do both in one round
        trip overrides this)."""
        return self._read_many(keys), self._members(index)

    @abstractmethod
    def _delete(self, key: str, index: str | None) -> bool:
        """Remove ``key`` (and its ``index`` entry); ``False`` if it was not there."""

    @abstractmethod
    def _members(self, index: str) -> list[tuple[str, str, int]]:
        """``(key, doc, version)`` of the live keys in ``index``."""

    @abstractmethod
    def _ttl(self, key: str) -> float | None:
        """Seconds until ``key`` expires, ``None`` if it never does (or does not exist)."""

    def _decode(self, cls: type[R], doc: str, version: int) -> R:
        key = (cls, doc, version)
        record = self._decoded.get(key)
        if record is None:
            if len(self._decoded) >= _DECODED_MAX:
                self._decoded.clear()
            record = self._decoded[key] = cls.from_json(doc, version)
        return record

    # --- keys ---------------------------------------------------------------------------------

    def _position_key(self, account: str, strategy: str, symbol: str) -> tuple[str, str]:
        a = _key_part("account", account)
        key = f"{self.prefix}:pos:{{{a}}}:{_key_part('strategy', strategy)}:{_key_part('symbol', symbol)}"
        return key, f"{self.prefix}:pos-idx:{{{a}}}"

    def _order_key(self, account: str, client_order_id: str) -> tuple[str, str]:
        a = _key_part("account", account)
        return (
            f"{self.prefix}:ord:{{{a}}}:{_key_part('client_order_id', client_order_id)}",
            f"{self.prefix}:ord-idx:{{{a}}}",
        )

    def _order_lookup_key(self, client_order_id: str) -> str:
        return f"{self.prefix}:ord-acct:{_key_part('client_order_id', client_order_id)}"

    def _snapshot_key(self, strategy: str, symbol: str) -> str:
        return f"{self.prefix}:snap:{_key_part('strategy', strategy)}:{_key_part('symbol', symbol)}"

    def _risk_key(self, account: str) -> str:
        return f"{self.prefix}:risk:{{{_key_part('account', account)}}}"

    def _document_key(self, name: str) -> str:
        return f"{self.prefix}:doc:{_key_part('name', name)}"

    # --- the compare-and-set loop -------------------------------------------------------------

    def _update(
        self,
        key: str,
        index: str | None,
        load: Callable[[str | None, int], R],
        change: Callable[[R], R],
        ttl: Callable[[R], int | None],
        known: R | None = None,
    ) -> R:
        for attempt in range(self.max_attempts):
            if attempt == 0 and known is not None:  # read a moment ago: the compare-and-set checks it
                current, version = known, known.version
            else:
                doc, version = self._read(key)
                current = load(doc, version)
            new = change(current)
            if new is current:  # the change changed nothing: no write, no new version
                return current
            text = new.to_json()  # validates: a bad value raises before anything is written
            if self._cas(key, text, version, ttl(new), index):
                return replace(new, version=version + 1)
            self._sleep(backoff_delay(attempt, base=0.001, cap=_BACKOFF_CAP))
        raise ConcurrencyError(f"gave up updating {key} after {self.max_attempts} conflicting attempts")

    # --- positions ----------------------------------------------------------------------------

    def get_position(self, account: str, strategy: str, symbol: str) -> PositionState:
        key, _ = self._position_key(account, strategy, symbol)
        doc, version = self._read(key)
        return self._load_position(account, strategy, symbol)(doc, version)

    def _load_position(self, account: str, strategy: str, symbol: str) -> Callable[[str | None, int], PositionState]:
        def load(doc: str | None, version: int) -> PositionState:
            if doc is None:
                return PositionState(account, strategy, symbol)
            return self._decode(PositionState, doc, version)

        return load

    def update_position(
        self, account: str, strategy: str, symbol: str, change: Callable[[PositionState], PositionState]
    ) -> PositionState:
        key, index = self._position_key(account, strategy, symbol)

        def checked(current: PositionState) -> PositionState:
            new = change(current)
            if (new.account, new.strategy, new.symbol) != (account, strategy, symbol):
                raise StateError("an update may not change a position's account, strategy or symbol")
            return new

        return self._update(
            key,
            index,
            self._load_position(account, strategy, symbol),
            checked,
            lambda p: None if p.qty else IDLE_TTL_SECONDS,
        )

    def positions(self, account: str) -> list[PositionState]:
        _, index = self._position_key(account, "x", "x")
        found = [self._decode(PositionState, doc, version) for _, doc, version in self._members(index)]
        return sorted(found, key=lambda p: (p.strategy, p.symbol))

    def positions_in(self, account: str, symbol: str) -> list[PositionState]:
        return [p for p in self.positions(account) if p.symbol == symbol]

    # --- open orders --------------------------------------------------------------------------

    def add_open_order(self, order: Order) -> bool:
        key, index = self._order_key(order.account, order.client_order_id)
        text = order.to_json()
        lookup = self._order_lookup_key(order.client_order_id)
        # The id is claimed first, globally: whatever happens next, it can never be used twice.
        if not self._cas(lookup, order.account, 0, None, None):
            return False
        return self._cas(key, text, 0, None, index)

    def _order_location(self, client_order_id: str) -> tuple[str, str] | None:
        account, _ = self._read(self._order_lookup_key(client_order_id))
        return None if account is None else self._order_key(account, client_order_id)

    def get_open_order(self, client_order_id: str) -> Order | None:
        location = self._order_location(client_order_id)
        if location is None:
            return None
        doc, version = self._read(location[0])
        return None if doc is None else self._decode(Order, doc, version)

    def update_open_order(self, client_order_id: str, change: Callable[[Order], Order]) -> Order:
        location = self._order_location(client_order_id)
        if location is None:
            raise KeyError(f"no open order {client_order_id!r}")
        key, index = location

        def load(doc: str | None, version: int) -> Order:
            if doc is None:
                raise KeyError(f"no open order {client_order_id!r}")
            return self._decode(Order, doc, version)

        def checked(current: Order) -> Order:
            new = change(current)
            if (new.client_order_id, new.account) != (current.client_order_id, current.account):
                raise StateError("an update may not change an order's id or account")
            return new

        return self._update(key, index, load, checked, lambda _: None)

    def remove_open_order(self, client_order_id: str) -> bool:
        location = self._order_location(client_order_id)
        if location is None:
            return False
        removed = self._delete(*location)
        # Keep the id known for a week: a late duplicate submit must still be recognised.
        lookup = self._order_lookup_key(client_order_id)
        account, version = self._read(lookup)
        if account is not None:
            self._cas(lookup, account, version, IDLE_TTL_SECONDS, None)
        return removed

    def open_orders(self, account: str) -> list[Order]:
        _, index = self._order_key(account, "x")
        found = [self._decode(Order, doc, version) for _, doc, version in self._members(index)]
        return sorted(found, key=_order_id)

    # --- strategy snapshots -------------------------------------------------------------------

    def save_snapshot(self, strategy: str, symbol: str, snapshot: Mapping[str, Any]) -> None:
        text = encode_snapshot(strategy, symbol, snapshot, self.clock())
        self._put(self._snapshot_key(strategy, symbol), text, IDLE_TTL_SECONDS)

    def load_snapshot(self, strategy: str, symbol: str) -> dict[str, Any] | None:
        doc, _ = self._read(self._snapshot_key(strategy, symbol))
        return None if doc is None else decode_snapshot(doc)

    def load_snapshots(self, strategies: Sequence[str], symbol: str) -> dict[str, dict[str, Any] | None]:
        """Several strategies' snapshots for one symbol, in one read."""
        found = self._read_many([self._snapshot_key(name, symbol) for name in strategies])
        return {
            name: None if doc is None else decode_snapshot(doc)
            for name, (doc, _) in zip(strategies, found, strict=True)
        }

    def save_snapshots(self, symbol: str, snapshots: Mapping[str, Mapping[str, Any]]) -> None:
        """Several strategies' snapshots for one symbol, in one write."""
        now = self.clock()
        items = [
            (self._snapshot_key(name, symbol), encode_snapshot(name, symbol, snapshot, now))
            for name, snapshot in snapshots.items()
        ]  # encoded (and so validated) before anything is written
        self._put_many(items, IDLE_TTL_SECONDS)

    # --- one bar's reads ---------------------------------------------------------------------

    def bar_state(self, account: str, strategies: Sequence[str], symbol: str) -> BarState:
        snapshot_keys = [self._snapshot_key(name, symbol) for name in strategies]
        position_keys = [self._position_key(account, name, symbol)[0] for name in strategies]
        _, index = self._order_key(account, "x")
        found, members = self._read_many_and_members([*snapshot_keys, *position_keys, self._risk_key(account)], index)
        snapshots = {
            name: None if doc is None else decode_snapshot(doc)
            for name, (doc, _) in zip(strategies, found, strict=False)
        }
        positions = {
            name: self._load_position(account, name, symbol)(doc, version)
            for name, (doc, version) in zip(strategies, found[len(strategies) : -1], strict=True)
        }
        orders = sorted((self._decode(Order, doc, version) for _, doc, version in members), key=_order_id)
        doc, version = found[-1]
        risk = RiskState(account) if doc is None else self._decode(RiskState, doc, version)
        return BarState(snapshots, positions, orders, risk)

    # --- named documents (the simulated broker's account) ---------------------------------------

    def load_document(self, name: str) -> str | None:
        """The document saved under ``name``, or ``None``."""
        doc, _ = self._read(self._document_key(name))
        return doc

    def save_document(self, name: str, text: str) -> None:
        """Replace the document under ``name`` (never expires)."""
        self._put(self._document_key(name), text, None)

    # --- risk state ---------------------------------------------------------------------------

    def get_risk_state(self, account: str) -> RiskState:
        doc, version = self._read(self._risk_key(account))
        return RiskState(account) if doc is None else self._decode(RiskState, doc, version)

    def update_risk_state(
        self, account: str, change: Callable[[RiskState], RiskState], known: RiskState | None = None
    ) -> RiskState:
        def load(doc: str | None, version: int) -> RiskState:
            return RiskState(account) if doc is None else self._decode(RiskState, doc, version)

        def checked(current: RiskState) -> RiskState:
            new = change(current)
            if new.account != account:
                raise StateError("an update may not change the account")
            return new

        if known is not None and known.account != account:
            raise StateError("the known risk state is another account's")
        return self._update(self._risk_key(account), None, load, checked, lambda _: None, known)
