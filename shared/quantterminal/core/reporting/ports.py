"""The trading record read back (``TradeHistory``: reports, the API, divergence), records that
could not be written (``Quarantine``), and the ledger that holds every role (``Ledger``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol

from quantterminal.core.accounting.orders import Order, OrderUpdate
from quantterminal.core.accounting.records import EquitySnapshot, QuarantinedRecord, RiskEvent
from quantterminal.core.market_data.ports import MarketHistory
from quantterminal.core.models import Fill, Signal
from quantterminal.core.trading.ports import TradeJournal


class TradeHistory(Protocol):
    """The trading record read back: reports, the API, divergence. Days (``on`` queries) are New
    York trading dates."""

    def orders_on(self, day: date) -> list[Order]:
        """Orders decided on New York date ``day``, in decision order."""
        ...

    def orders_between(self, start: datetime, end: datetime) -> list[Order]:
        """Orders decided in ``[start, end)``, in decision order."""
        ...

    def order_events(self, client_order_id: str) -> list[OrderUpdate]:
        """Every event of one order in the order they were appended."""
        ...

    def events_of_orders(self, client_order_ids: Sequence[str]) -> dict[str, list[OrderUpdate]]:
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
