"""What the ledger records besides market data and orders: risk events, equity snapshots.

These are the audit trail, append-only (orders and their updates: ``core.accounting.orders``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class RiskEvent:
    """A decision of the risk manager worth keeping: a rejection, a halt, a resume."""

    timestamp: datetime
    account: str
    kind: str
    reason: str
    strategy: str | None = None
    symbol: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EquitySnapshot:
    """An account's cash and equity at a moment, exact."""

    account: str
    timestamp: datetime
    equity: Decimal
    cash: Decimal


@dataclass(frozen=True, slots=True)
class QuarantinedRecord:
    """A record the ledger could not take, kept with the reason for someone to look at."""

    kind: str
    reason: str
    record: str  # the record as JSON
    recorded_at: datetime
