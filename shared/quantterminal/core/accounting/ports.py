"""The hot state shared between processes (``StateStore``: Redis in AWS, memory on a laptop): the
accounting records it holds are this folder's. Its contract tests are ``tests/contract``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from quantterminal.core.accounting.orders import Order
from quantterminal.core.accounting.state import PositionState, RiskState


@dataclass(frozen=True)
class BarState:
    """What deciding on one bar reads from the store, taken in one go (``StateStore.bar_state``):
    the strategies' snapshots and positions in the bar's symbol, the account's open orders and
    its risk state."""

    snapshots: Mapping[str, dict[str, Any] | None]  # by strategy; None: never saved (or expired)
    positions: Mapping[str, PositionState]  # by strategy; a flat one with version 0 if none is stored
    open_orders: list[Order]  # the account's, by client order id
    risk: RiskState  # the account's (a fresh one with version 0 if none is stored)


class StateStore(Protocol):
    """Hot state shared by concurrent writers. Every update is compare-and-set on a version
    number: ``update_*`` reads, applies ``change``, and writes only if nobody wrote in between,
    retrying with backoff a bounded number of times (then ``ConcurrencyError``)."""

    def get_position(self, account: str, strategy: str, symbol: str) -> PositionState:
        """The position, or a flat one with version 0 if none is stored."""
        ...

    def update_position(
        self, account: str, strategy: str, symbol: str, change: Callable[[PositionState], PositionState]
    ) -> PositionState:
        """Apply ``change`` atomically. Open positions never expire; flat ones after 7 days."""
        ...

    def positions(self, account: str) -> list[PositionState]:
        """All stored positions of ``account`` (open and recently flat), sorted."""
        ...

    def positions_in(self, account: str, symbol: str) -> list[PositionState]:
        """Every strategy's stored position of ``account`` in ``symbol``, in one read."""
        ...

    def add_open_order(self, order: Order) -> bool:
        """Record an order before it is submitted; ``False`` if its id is already recorded."""
        ...

    def get_open_order(self, client_order_id: str) -> Order | None:
        """The open order, or ``None``."""
        ...

    def update_open_order(self, client_order_id: str, change: Callable[[Order], Order]) -> Order:
        """Apply ``change`` atomically; ``KeyError`` if the order is not open."""
        ...

    def remove_open_order(self, client_order_id: str) -> bool:
        """Forget an order that reached a terminal state; ``False`` if it was not there."""
        ...

    def open_orders(self, account: str) -> list[Order]:
        """All open orders of ``account``, by client order id."""
        ...

    def save_snapshot(self, strategy: str, symbol: str, snapshot: Mapping[str, Any]) -> None:
        """Keep a strategy's state; it expires after 7 days without a save."""
        ...

    def load_snapshot(self, strategy: str, symbol: str) -> dict[str, Any] | None:
        """The last saved strategy state, or ``None``."""
        ...

    def load_snapshots(self, strategies: Sequence[str], symbol: str) -> dict[str, dict[str, Any] | None]:
        """Several strategies' last saved states for one symbol, in one read."""
        ...

    def save_snapshots(self, symbol: str, snapshots: Mapping[str, Mapping[str, Any]]) -> None:
        """Keep several strategies' states for one symbol, in one write."""
        ...

    def bar_state(self, account: str, strategies: Sequence[str], symbol: str) -> BarState:
        """``load_snapshots``, each strategy's ``get_position`` in ``symbol``, ``open_orders`` and
        ``get_risk_state``, in as few round trips as the store can (Redis: one, two if orders are
        open)."""
        ...

    def get_risk_state(self, account: str) -> RiskState:
        """The account's risk state (a fresh one with version 0 if none is stored)."""
        ...

    def update_risk_state(
        self, account: str, change: Callable[[RiskState], RiskState], known: RiskState | None = None
    ) -> RiskState:
        """Apply ``change`` atomically. ``known``: the state as read a moment ago -- the first
        attempt starts from it instead of reading again (it loses the compare-and-set, and reads,
        if the state has moved on since)."""
        ...
