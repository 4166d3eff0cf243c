"""What every ledger adapter does the same way: refuse bad records with a clear message (nothing
is written), collapse repeats of one key inside a batch, and refuse a write whose key is already
stored with *different* content.

Writes are idempotent by natural key (a redelivered fill, order or event is stored once), but a
second, different record under a known key is never dropped quietly: that is an id collision (a
broker numbering from 1 again after a restart) or corrupt input, and silently keeping the first
row loses the second. ``LedgerIntegrityError`` names both rows.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from quantterminal.core.accounting.order_terms import read_terms, terms_document
from quantterminal.core.accounting.orders import Order, OrderUpdate
from quantterminal.core.accounting.records import EquitySnapshot, RiskEvent
from quantterminal.core.market_data.validation import bar_problem, trade_problem
from quantterminal.core.models import Bar, Fill, Signal, Trade
from quantterminal.errors import LedgerError


class LedgerIntegrityError(LedgerError):
    """A record whose key is already stored with different content. Nothing was written."""


# What identifies the content of each kind of record: a repeat must match these exactly.
ORDER_FIELDS = (
    "strategy",
    "symbol",
    "side",
    "qty",
    "order_type",
    "limit_price",
    "decision_time",
    "decision_price",
    "terms",
)
FILL_FIELDS = ("client_order_id", "symbol", "side", "qty", "price", "commission", "ts")
# An order event is the broker's fact (order, event, time, cumulative quantity, broker id); its
# average fill price is our derived view of the executions known at the time, so not compared.
ORDER_EVENT_FIELDS = ("client_order_id", "event", "ts", "filled_qty", "broker_order_id")
SIGNAL_FIELDS = ("direction", "price")


def order_identity(order: Order) -> tuple[object, ...]:
    return (
        order.strategy,
        order.symbol,
        order.side.value,
        order.qty,
        order.order_type.value,
        order.limit_price,
        order.decision_time,
        order.decision_price,
        terms_text(order),
    )


def terms_text(order: Order) -> str | None:
    """The order's terms beyond a plain day order as stored (``orders.terms``; ``None``: none)."""
    terms = terms_document(order)
    return json.dumps(terms, sort_keys=True, separators=(",", ":")) if terms else None


def read_terms_text(text: str | None) -> dict[str, Any]:
    """``Order`` keyword arguments from a stored ``orders.terms`` (``None``: a plain day order)."""
    return read_terms(json.loads(text) if text else {})


def fill_identity(fill: Fill) -> tuple[object, ...]:
    return (fill.order_id, fill.symbol, fill.side.value, fill.qty, fill.price, fill.commission, fill.timestamp)


def order_event_identity(event: OrderUpdate) -> tuple[object, ...]:
    return (event.client_order_id, event.event, event.timestamp, event.cum_filled_qty, event.broker_order_id)


def order_event_id(event: OrderUpdate) -> str:
    """The key under which an order update is stored once: the same report delivered again (the
    stream's redelivery, the catch-up's copy) maps to the same row."""
    execution = event.execution.execution_id if event.execution else ""
    return f"{event.client_order_id}:{event.event}:{event.cum_filled_qty}:{execution}"


def execution_id_of(event_id: str) -> str:
    """The execution id inside an order event's key ("" for an update without one)."""
    return event_id.rsplit(":", 1)[-1]


def signal_identity(signal: Signal) -> tuple[object, ...]:
    return (signal.direction.value, float(signal.price))


def ensure_same(kind: str, key: str, fields: Sequence[str], stored: Sequence[object], new: Sequence[object]) -> None:
    """Raise ``LedgerIntegrityError`` unless the stored row under ``key`` equals the new one."""
    if tuple(stored) == tuple(new):
        return
    differences = "; ".join(
        f"{name}: stored {old!s}, new {value!s}"
        for name, old, value in zip(fields, stored, new, strict=True)
        if old != value
    )
    raise LedgerIntegrityError(
        f"{kind} {key!r} is already recorded with different content ({differences}); neither row was changed"
    )


def risk_event_key(event: RiskEvent) -> str:
    """The natural key of a risk event: the same refusal of the same order at the same time is one
    event, however often the decision is replayed."""
    parts = [
        event.timestamp.isoformat(),
        event.account,
        event.kind,
        event.reason,
        event.strategy,
        event.symbol,
        json.dumps(event.details, sort_keys=True, default=str),
    ]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def prepare_bars(bars: Sequence[Bar]) -> list[Bar]:
    """Validated bars, one per (symbol, time): a later bar in the batch replaces an earlier one."""
    unique: dict[tuple[str, datetime], Bar] = {}
    for i, bar in enumerate(bars):
        if not isinstance(bar, Bar):
            raise LedgerError(f"bar {i} is a {type(bar).__name__}, not a Bar")
        problem = bar_problem(bar)
        if problem:
            raise LedgerError(f"bar {i} ({bar.symbol} {bar.timestamp!s}): {problem}")
        unique[(bar.symbol, bar.timestamp)] = bar
    return list(unique.values())


def prepare_ticks(trades: Sequence[Trade]) -> list[Trade]:
    """Validated trades, one per (symbol, time, exchange, trade id)."""
    unique: dict[tuple[str, datetime, str, str], Trade] = {}
    for i, trade in enumerate(trades):
        if not isinstance(trade, Trade):
            raise LedgerError(f"tick {i} is a {type(trade).__name__}, not a Trade")
        problem = trade_problem(trade)
        if problem:
            raise LedgerError(f"tick {i} ({trade.symbol} {trade.timestamp!s}): {problem}")
        unique[(trade.symbol, trade.timestamp, trade.exchange or "", trade.trade_id or "")] = trade
    return list(unique.values())


def _aware(name: str, ts: object) -> None:
    if not isinstance(ts, datetime) or ts.tzinfo is None:
        raise LedgerError(f"{name} must be a timezone-aware datetime, got {ts!r}")


def _money(name: str, value: object, positive: bool = False, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, Decimal) or not value.is_finite() or (positive and value <= 0):
        raise LedgerError(f"{name} must be a finite{' positive' if positive else ''} Decimal, got {value!r}")


def _text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise LedgerError(f"{name} must be a non-empty string, got {value!r}")


def _count(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise LedgerError(f"{name} must be an integer >= {minimum}, got {value!r}")


def check_order(order: Order) -> tuple[datetime, Decimal]:
    """Check an order the kernel decided; return its decision time and price (both required)."""
    _text("client_order_id", order.client_order_id)
    _text("strategy", order.strategy)
    _text("symbol", order.symbol)
    _count("qty", order.qty, 1)
    _aware("decision_time", order.decision_time)
    _money("decision_price", order.decision_price, positive=True)
    _money("limit_price", order.limit_price, positive=True, optional=True)
    decided_at, decided_price = order.decision_time, order.decision_price
    if decided_at is None or decided_price is None:  # for mypy: the checks above raised already
        raise LedgerError(f"order {order.client_order_id} has no decision time or price")
    return decided_at, decided_price


def check_order_event(event: OrderUpdate) -> None:
    _text("client_order_id", event.client_order_id)
    _text("event", event.event)
    _aware("timestamp", event.timestamp)
    _count("cum_filled_qty", event.cum_filled_qty, 0)
    _money("filled_avg_price", event.filled_avg_price, positive=True, optional=True)


def check_fill(fill: Fill) -> None:
    _text("execution_id", fill.execution_id)
    _text("order_id", fill.order_id)
    _text("symbol", fill.symbol)
    _count("qty", fill.qty, 1)
    _money("price", fill.price, positive=True)
    _money("commission", fill.commission)
    _aware("timestamp", fill.timestamp)


def check_signal(signal: Signal) -> None:
    _text("strategy", signal.strategy)
    _text("symbol", signal.symbol)
    _aware("bar_time", signal.bar_time)
    if not isinstance(signal.price, (int, float)) or not math.isfinite(signal.price):
        raise LedgerError(f"signal price must be finite, got {signal.price!r}")


def check_risk_event(event: RiskEvent) -> None:
    _aware("timestamp", event.timestamp)
    _text("account", event.account)
    _text("kind", event.kind)
    _text("reason", event.reason)


def check_equity(snapshot: EquitySnapshot) -> None:
    _text("account", snapshot.account)
    _aware("timestamp", snapshot.timestamp)
    _money("equity", snapshot.equity)
    _money("cash", snapshot.cash)
