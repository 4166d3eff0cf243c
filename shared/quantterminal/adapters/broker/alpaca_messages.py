"""Alpaca's order payloads (REST orders, ``trade_updates`` messages, account activities) as the
core's ``Order`` and ``OrderUpdate``: decimal strings read exactly, times as tz-aware
datetimes, share quantities whole or refused (``FractionalQuantity``), never truncated."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from quantterminal.core.accounting.order_ids import strategy_of
from quantterminal.core.accounting.orders import Order, OrderType, OrderUpdate
from quantterminal.core.models import Execution, Side


class FractionalQuantity(ValueError):  # noqa: N818 - the broker's data, refused
    """The broker reports a fractional share quantity; QuantTerminal trades whole shares."""


def shares(value: Any, what: str) -> int:
    """A whole number of shares, or ``FractionalQuantity`` -- never a silent truncation."""
    amount = decimal(value) or Decimal(0)
    if amount != amount.to_integral_value():
        raise FractionalQuantity(f"{what}: {amount} shares is fractional; QuantTerminal trades whole shares only")
    return int(amount)


def decimal(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def moment(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _value(field: Any) -> str:
    return str(getattr(field, "value", field))


def to_order(order: Any) -> Order:
    """An alpaca-py ``Order`` (or the REST/stream order dict) as an ``Order``: Alpaca's status
    names map onto ours (``Order.reported_as``); the strategy is the client order id's prefix."""
    get = order.get if isinstance(order, Mapping) else lambda key, default=None: getattr(order, key, default)
    coid = str(get("client_order_id"))
    what = f"order {coid}"
    return Order(
        client_order_id=coid,
        strategy=strategy_of(coid),
        symbol=str(get("symbol")),
        side=Side(_value(get("side"))),
        qty=shares(get("qty"), what),
        order_type=OrderType(_value(get("order_type") or get("type"))),
        limit_price=decimal(get("limit_price")),
        broker_order_id=str(get("id")),
        filled_qty=shares(get("filled_qty"), what),
        filled_avg_price=decimal(get("filled_avg_price")),
        created_at=moment(get("submitted_at")),
        updated_at=moment(get("updated_at")),
    ).reported_as(_value(get("status")))


def to_order_update(data: Mapping[str, Any]) -> OrderUpdate:
    """A ``trade_updates`` message's ``data`` as an ``OrderUpdate`` (``price``/``qty`` describe the
    execution; ``order.filled_qty`` is cumulative)."""
    order = data["order"]
    event = str(data["event"])
    timestamp = moment(data.get("timestamp")) or moment(order.get("updated_at"))
    if timestamp is None:
        raise ValueError(f"trade update {event} for {order.get('client_order_id')} has no timestamp")
    execution = None
    cum = shares(order.get("filled_qty"), f"order {order.get('client_order_id')}")
    if event in ("fill", "partial_fill"):
        qty, price = decimal(data.get("qty")), decimal(data.get("price"))
        if qty is None or price is None or not data.get("execution_id"):
            raise ValueError(f"{event} for {order.get('client_order_id')} lacks execution id, qty or price")
        what = f"{event} of {order.get('client_order_id')}"
        execution = Execution(str(data["execution_id"]), shares(qty, what), price, timestamp, cum)
    return OrderUpdate(
        client_order_id=str(order["client_order_id"]),
        event=event,
        timestamp=timestamp,
        cum_filled_qty=cum,
        execution=execution,
        broker_order_id=str(order.get("id")) if order.get("id") else None,
        filled_avg_price=decimal(order.get("filled_avg_price")),
    )
