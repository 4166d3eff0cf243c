"""The ports the trading kernel needs: where orders go (``Broker``: Alpaca, or the simulated broker)
and what it writes as it trades (``TradeJournal``, the ledger's role). Adapters implement them;
their contract tests (``tests/contract``) specify them."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Protocol

from quantterminal.core.accounting.orders import Order, OrderUpdate
from quantterminal.core.accounting.records import EquitySnapshot, RiskEvent
from quantterminal.core.models import Fill, Signal
from quantterminal.core.risk.ports import RiskJournal
from quantterminal.core.trading.broker import BrokerAccount, BrokerPosition


class TradeJournal(RiskJournal, Protocol):
    """What the trading kernel writes as it trades (orders, order events, fills, signals, risk
    events, equity) and the one thing it reads back: a strategy's fills, to rebook a late execution.

    Writes are idempotent; order events and fills are append-only."""

    def record_order(self, order: Order) -> bool:
        """Store an order once; ``False`` if its client order id was already recorded."""
        ...

    def append_order_event(self, event: OrderUpdate) -> bool:
        """Append an order event; ``False`` if this event id is already stored."""
        ...

    def append_fill(self, fill: Fill) -> bool:
        """Append a fill; ``False`` if this execution id is already stored."""
        ...

    def record_signal(self, signal: Signal) -> bool:
        """Store a decision; ``False`` if (strategy, symbol, bar time) is already stored."""
        ...

    def record_risk_event(self, event: RiskEvent) -> None:
        """Append a risk event."""
        ...

    def record_equity(self, snapshot: EquitySnapshot) -> None:
        """Store an equity snapshot (one per account and time; the latest write wins)."""
        ...

    def fills_for(self, strategy: str, symbol: str) -> list[Fill]:
        """Every fill of ``strategy``'s orders in ``symbol``, in execution order (time, id)."""
        ...


class Broker(Protocol):
    """A brokerage account. Order updates (fills, cancels, ...) are delivered to the handler set
    with ``on_update`` -- possibly late, twice or out of order; ``AccountBook`` copes with that."""

    def submit(self, order: Order) -> Order:
        """Send an order; ``BrokerRejected`` if refused, ``BrokerUnavailable`` if the outcome is
        unknown. A second submit of the same client order id never creates a second order."""
        ...

    def cancel(self, client_order_id: str) -> None:
        """Ask for an order to be canceled (the outcome arrives as an update)."""
        ...

    def exit_legs(self, client_order_id: str) -> list[Order]:
        """The exit legs the broker holds for the entry ``client_order_id`` (a bracket's stop-loss
        and take-profit), under the ids its updates about them will carry; none for a plain order."""
        ...

    def get_order(self, client_order_id: str) -> Order | None:
        """The order with this client order id, or ``None`` if the broker has none."""
        ...

    def replace(self, client_order_id: str, new_client_order_id: str, qty: int, limit_price: Decimal | None) -> Order:
        """Replace a working order by a new one (new id, quantity still wanted, new limit); the old
        order ends as ``replaced`` keeping its fills."""
        ...

    def open_orders(self) -> list[Order]:
        """Orders not yet in a terminal state."""
        ...

    def positions(self) -> list[BrokerPosition]:
        """Open positions."""
        ...

    def account(self) -> BrokerAccount:
        """Cash, equity and buying power."""
        ...

    def on_update(self, handler: Callable[[OrderUpdate], None]) -> None:
        """Deliver order updates to ``handler``."""
        ...
