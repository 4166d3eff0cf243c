"""The small interfaces the core needs from the outside world. Adapters implement them.

- ``Ledger``: the time-series and audit store (PostgreSQL in AWS, SQLite on a laptop), in the
  roles its callers need: ``MarketHistory``, ``TradeJournal``, ``TradeHistory``, ``Quarantine``.
- ``StateStore``: the hot state shared between processes (Redis in AWS, memory on a laptop).
- ``Broker``: where orders go (Alpaca; the simulated broker on a laptop and in tests).
- ``HistoricalBars``: past minute bars, to fill gaps in a live feed (Alpaca's historical API).

Both are specified by their contract tests (``tests/contract``), which every adapter passes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from quantterminal.core.accounting.records import EquitySnapshot, IngestReport, OrderEvent, QuarantinedRecord, RiskEvent
from quantterminal.core.accounting.state import OpenOrder, PositionState, RiskState
from quantterminal.core.models import Bar, Fill, Signal, Trade
from quantterminal.core.trading.broker import BrokerAccount, BrokerOrder, BrokerPosition
from quantterminal.core.trading.order_state import OrderUpdate
from quantterminal.core.trading.orders import OrderRequest


class MarketHistory(Protocol):
    """Bars and ticks of record: what the feed and backfill write, what backtests and warm-ups read.

    Writes are idempotent (natural keys), so they may be retried or redelivered."""

    def ingest_bars(self, bars: Sequence[Bar]) -> IngestReport:
        """Store bars keyed by (symbol, start time); a changed bar replaces the stored one and
        bumps its revision, an identical one changes nothing. All or nothing."""
        ...

    def ingest_ticks(self, trades: Sequence[Trade]) -> IngestReport:
        """Store trades keyed by (symbol, time, exchange, trade id); a known trade is unchanged."""
        ...

    def bar_revision(self, symbol: str, start: datetime) -> int | None:
        """How often the stored bar was revised (0 = never), or ``None`` if there is none."""
        ...

    def last_bars(self, symbol: str, n: int) -> list[Bar]:
        """The latest ``n`` bars of ``symbol``, oldest first."""
        ...

    def bars_between(
        self, start: datetime, end: datetime, symbols: Sequence[str] | None = None
    ) -> dict[str, list[Bar]]:
        """Bars with ``start <= time < end`` by symbol (all symbols when ``symbols`` is None)."""
        ...

    def last_ticks(self, symbol: str, n: int) -> list[Trade]:
        """The latest ``n`` trades of ``symbol``, oldest first."""
        ...

    def missing_minutes(self, symbol: str, start: datetime, end: datetime) -> list[datetime]:
        """Regular-session minutes in ``[start, end)`` with no stored bar (for backfill)."""
        ...


class TradeJournal(Protocol):
    """What the trading kernel writes as it trades (orders, order events, fills, signals, risk
    events, equity) and the one thing it reads back: a strategy's fills, to rebook a late execution.

    Writes are idempotent; order events and fills are append-only."""

    def record_order(self, order: OrderRequest) -> bool:
        """Store an order once; ``False`` if its client order id was already recorded."""
        ...

    def append_order_event(self, event: OrderEvent) -> bool:
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


class TradeHistory(Protocol):
    """The trading record read back: reports, the API, divergence. Days (``on`` queries) are New
    York trading dates."""

    def orders_on(self, day: date) -> list[OrderRequest]:
        """Orders decided on New York date ``day``, in decision order."""
        ...

    def orders_between(self, start: datetime, end: datetime) -> list[OrderRequest]:
        """Orders decided in ``[start, end)``, in decision order."""
        ...

    def order_events(self, client_order_id: str) -> list[OrderEvent]:
        """Every event of one order in the order they were appended."""
        ...

    def events_of_orders(self, client_order_ids: Sequence[str]) -> dict[str, list[OrderEvent]]:
        """Every event of each of these orders, in append order (orders without events absent)."""
        ...

    def fills_on(self, day: date) -> list[Fill]:
        """Fills executed on New York date ``day``, in time order."""
        ...

    def fills_between(self, start: datetime, end: datetime) -> list[Fill]:
        """Fills executed in ``[start, end)``, in time order."""
        ...

    def signals_between(self, start: datetime, end: datetime) -> list[Signal]:
        """Decisions on bars starting in ``[start, end)``, in time order."""
        ...

    def risk_events_on(self, day: date) -> list[RiskEvent]:
        """Risk events on New York date ``day``, in time order."""
        ...

    def equity_curve(self, account: str, start: datetime, end: datetime) -> list[EquitySnapshot]:
        """Equity snapshots of ``account`` in ``[start, end)``, in time order."""
        ...


class Quarantine(Protocol):
    """Records that could not be written, kept with the reason."""

    def quarantine(self, kind: str, reason: str, record: str) -> None:
        """Keep a record that could not be written (``record`` as JSON), with the reason."""
        ...

    def quarantined(self, limit: int = 100) -> list[QuarantinedRecord]:
        """The latest quarantined records, newest first."""
        ...


class Ledger(MarketHistory, TradeJournal, TradeHistory, Quarantine, Protocol):
    """The history of record, every role in one store (PostgreSQL in AWS, SQLite on a laptop).
    Callers ask for the role they need (``TradeJournal`` for the kernel, ``TradeHistory`` for
    reports, ``MarketHistory`` for bars); the composition roots hand them the whole ledger."""

    def close(self) -> None:
        """Release connections."""
        ...


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

    def add_open_order(self, order: OpenOrder) -> bool:
        """Record an order before it is submitted; ``False`` if its id is already recorded."""
        ...

    def get_open_order(self, client_order_id: str) -> OpenOrder | None:
        """The open order, or ``None``."""
        ...

    def update_open_order(self, client_order_id: str, change: Callable[[OpenOrder], OpenOrder]) -> OpenOrder:
        """Apply ``change`` atomically; ``KeyError`` if the order is not open."""
        ...

    def remove_open_order(self, client_order_id: str) -> bool:
        """Forget an order that reached a terminal state; ``False`` if it was not there."""
        ...

    def open_orders(self, account: str) -> list[OpenOrder]:
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

    def get_risk_state(self, account: str) -> RiskState:
        """The account's risk state (a fresh one with version 0 if none is stored)."""
        ...

    def update_risk_state(self, account: str, change: Callable[[RiskState], RiskState]) -> RiskState:
        """Apply ``change`` atomically."""
        ...


class Broker(Protocol):
    """A brokerage account. Order updates (fills, cancels, ...) are delivered to the handler set
    with ``on_update`` -- possibly late, twice or out of order; ``AccountBook`` copes with that."""

    def submit(self, order: OrderRequest) -> BrokerOrder:
        """Send an order; ``BrokerRejected`` if refused, ``BrokerUnavailable`` if the outcome is
        unknown. A second submit of the same client order id never creates a second order."""
        ...

    def cancel(self, client_order_id: str) -> None:
        """Ask for an order to be canceled (the outcome arrives as an update)."""
        ...

    def get_order(self, client_order_id: str) -> BrokerOrder | None:
        """The order with this client order id, or ``None`` if the broker has none."""
        ...

    def replace(
        self, client_order_id: str, new_client_order_id: str, qty: int, limit_price: Decimal | None
    ) -> BrokerOrder:
        """Replace a working order by a new one (new id, quantity still wanted, new limit); the old
        order ends as ``replaced`` keeping its fills."""
        ...

    def open_orders(self) -> list[BrokerOrder]:
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


class SimulatedVenue(Broker, Protocol):
    """The broker handler of a backtest: a broker that bars drive and that reports its fills."""

    fills: list[Fill]

    def on_bar(self, bar: Bar, in_session: bool = True) -> None:
        """Work the orders of ``bar.symbol`` on ``bar`` (none on a bar outside the regular
        session); deliver the updates that are due."""
        ...

    def close_out(self, bar: Bar) -> None:
        """Fill the working market orders of ``bar.symbol`` at ``bar``'s close, now."""
        ...

    def all_orders(self) -> list[BrokerOrder]:
        """Every order received, terminal or not."""
        ...

    def working(self, symbol: str) -> bool:
        """Whether an order in ``symbol`` is still being worked."""
        ...


class HistoryUnavailable(Exception):  # noqa: N818 - a state of the provider, not a bug
    """The historical data API cannot answer now (down, throttled, unreachable)."""


class HistoricalBars(Protocol):
    """A provider's historical minute bars."""

    def minute_bars(self, symbol: str, start: datetime, end: datetime) -> list[Bar]:
        """Minute bars of ``symbol`` starting in ``[start, end)``, oldest first; raises
        ``HistoryUnavailable`` when the provider cannot answer now."""
        ...
