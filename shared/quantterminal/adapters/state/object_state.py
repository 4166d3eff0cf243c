"""The backtest's state store: plain in-process objects, no JSON round trip.

A backtest is one process and one thread; nothing else reads its state, so the versioned JSON
documents the Redis store and its embedded twin keep (for concurrent writers and restarts) would
only cost time. This store keeps the same frozen records (``PositionState``, ``Order``,
``RiskState``) as they are, bumps their versions as the others do and validates every write the
same way, so the kernel cannot tell it from the shared stores -- the contract tests run it too.

A backtest's store is built ``checked=False``: it neither validates the records the kernel writes
nor copies each one to bump its version. Versions exist for concurrent writers, of which a
backtest has none, and the records are the kernel's own, made by the same code the checked
stores validate in every other environment (a test holds the backtest's orders and fills on real
data to what the checked store gave). On the momentum bench that is a sixth of the run.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from quantterminal.core.accounting.orders import Order
from quantterminal.core.accounting.ports import BarState
from quantterminal.core.accounting.state import PositionState, RiskState, StateError

R = TypeVar("R", PositionState, Order, RiskState)


class ObjectStateStore:
    """State as objects in dicts, for one thread (see the module docs)."""

    def __init__(self, checked: bool = True) -> None:
        self.checked = checked  # validate every write and bump its version (see the module docs)
        self._positions: dict[str, dict[tuple[str, str], PositionState]] = {}  # account -> (strategy, symbol)
        self._sorted: dict[str, list[PositionState]] = {}  # account -> positions() answer, until a change
        self._by_symbol: dict[tuple[str, str], dict[str, PositionState]] = {}  # (account, symbol) -> by strategy
        self._orders: dict[str, Order] = {}
        self._orders_of: dict[str, dict[str, Order]] = {}  # account -> client order id -> order
        self._claimed: set[str] = set()  # every client order id ever recorded: never reused
        self._snapshots: dict[tuple[str, str], dict[str, Any]] = {}
        self._risk: dict[str, RiskState] = {}
        self._documents: dict[str, str] = {}

    def _stored(self, record: R, version: int) -> R:
        """What is kept of a write over ``version``: checked and at the next version, or (a
        backtest's store) the kernel's record as it is."""
        if not self.checked:
            return record
        record.validate()
        return replace(record, version=version + 1)

    # --- positions ----------------------------------------------------------------------------

    def get_position(self, account: str, strategy: str, symbol: str) -> PositionState:
        found = self._positions.get(account, {}).get((strategy, symbol))
        return found if found is not None else PositionState(account, strategy, symbol)

    def update_position(
        self, account: str, strategy: str, symbol: str, change: Callable[[PositionState], PositionState]
    ) -> PositionState:
        current = self.get_position(account, strategy, symbol)
        new = change(current)
        if (new.account, new.strategy, new.symbol) != (account, strategy, symbol):
            raise StateError("an update may not change a position's account, strategy or symbol")
        new = self._stored(new, current.version)
        self._positions.setdefault(account, {})[(strategy, symbol)] = new
        self._by_symbol.setdefault((account, symbol), {})[strategy] = new
        self._sorted.pop(account, None)
        return new

    def positions_in(self, account: str, symbol: str) -> list[PositionState]:
        found = self._by_symbol.get((account, symbol))
        return list(found.values()) if found else []

    def positions(self, account: str) -> list[PositionState]:
        found = self._sorted.get(account)
        if found is None:
            held = self._positions.get(account, {})
            found = self._sorted[account] = [held[k] for k in sorted(held)]
        return list(found)

    # --- open orders --------------------------------------------------------------------------

    def add_open_order(self, order: Order) -> bool:
        if order.client_order_id in self._claimed:
            return False
        stored = self._stored(order, 0)
        self._claimed.add(order.client_order_id)
        self._orders[order.client_order_id] = stored
        self._orders_of.setdefault(order.account, {})[order.client_order_id] = stored
        return True

    def get_open_order(self, client_order_id: str) -> Order | None:
        return self._orders.get(client_order_id)

    def update_open_order(self, client_order_id: str, change: Callable[[Order], Order]) -> Order:
        current = self._orders.get(client_order_id)
        if current is None:
            raise KeyError(client_order_id)
        new = change(current)
        if (new.client_order_id, new.account) != (current.client_order_id, current.account):
            raise StateError("an update may not change an order's id or account")
        new = self._stored(new, current.version)
        self._orders[client_order_id] = new
        self._orders_of[new.account][client_order_id] = new
        return new

    def remove_open_order(self, client_order_id: str) -> bool:
        order = self._orders.pop(client_order_id, None)
        if order is None:
            return False
        del self._orders_of[order.account][client_order_id]
        return True

    def open_orders(self, account: str) -> list[Order]:
        orders = self._orders_of.get(account)
        return [orders[k] for k in sorted(orders)] if orders else []

    # --- strategy snapshots -------------------------------------------------------------------

    def save_snapshot(self, strategy: str, symbol: str, snapshot: Mapping[str, Any]) -> None:
        self._snapshots[(strategy, symbol)] = dict(snapshot)

    def load_snapshot(self, strategy: str, symbol: str) -> dict[str, Any] | None:
        found = self._snapshots.get((strategy, symbol))
        return None if found is None else dict(found)

    def load_snapshots(self, strategies: Sequence[str], symbol: str) -> dict[str, dict[str, Any] | None]:
        return {name: self.load_snapshot(name, symbol) for name in strategies}

    def save_snapshots(self, symbol: str, snapshots: Mapping[str, Mapping[str, Any]]) -> None:
        for name, snapshot in snapshots.items():
            self.save_snapshot(name, symbol, snapshot)

    def bar_state(self, account: str, strategies: Sequence[str], symbol: str) -> BarState:
        return BarState(
            self.load_snapshots(strategies, symbol),
            {name: self.get_position(account, name, symbol) for name in strategies},
            self.open_orders(account),
            self.get_risk_state(account),
        )

    # --- risk state and documents -------------------------------------------------------------

    def get_risk_state(self, account: str) -> RiskState:
        return self._risk.get(account) or RiskState(account)

    def update_risk_state(
        self, account: str, change: Callable[[RiskState], RiskState], known: RiskState | None = None
    ) -> RiskState:
        del known  # reading the object is as cheap, and nothing else writes it in between
        current = self.get_risk_state(account)
        new = change(current)
        if new is current:  # nothing changed: nothing to write
            return current
        if new.account != account:
            raise StateError("an update may not change the risk state's account")
        new = self._stored(new, current.version)
        self._risk[account] = new
        return new

    def load_document(self, name: str) -> str | None:
        return self._documents.get(name)

    def save_document(self, name: str, text: str) -> None:
        self._documents[name] = text


class SharedObjectStateStore(ObjectStateStore):
    """The object store for the threads of one process: a paper run whose state lives and dies
    with it (``memory://``). Its trader, its API (a kill switch, a strategy disabled) and its
    reconciler call in from their own threads, so every call holds one lock: an update's read,
    change and write are one step, as Redis's compare-and-set makes them. Writes are checked.
    The records handed out are frozen, so a reader may keep them after the lock is let go."""

    def __init__(self) -> None:
        super().__init__(checked=True)
        self._lock = threading.RLock()  # re-entered: a risk check reads positions inside its update


def _holding_the_lock(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(self: SharedObjectStateStore, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


# every public method, so that one added later is guarded too
for _name, _method in list(vars(ObjectStateStore).items()):
    if not _name.startswith("_") and callable(_method):
        setattr(SharedObjectStateStore, _name, _holding_the_lock(_method))
