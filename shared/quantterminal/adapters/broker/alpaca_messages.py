"""Alpaca's order payloads (REST orders, ``trade_updates`` messages, account activities) as the
core's ``Order`` and ``OrderUpdate``: decimal strings read exactly, times as tz-aware
datetimes, share quantities whole or refused (``FractionalQuantity``), never truncated. An
order's terms are read as placed (stop price, ``trail_percent`` as basis points, time in force,
an entry's legs as its take-profit and stop-loss); terms QuantTerminal does not hold (a trailing
stop by dollar distance, ``opg``/``cls``/``fok``) make the order unreadable (``ValueError``): the
listings skip it with an alert, as any order not ours to read."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any

from quantterminal.core.accounting.order_ids import strategy_of
from quantterminal.core.accounting.orders import Order, OrderType, OrderUpdate, TimeInForce
from quantterminal.core.models import Execution, Side

TAKE_PROFIT, STOP_LOSS = "tp", "sl"  # the suffixes of our leg names (as the simulated venue's)


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


def field(raw: Any, key: str) -> Any:
    """``key`` of an Alpaca order, whether an alpaca-py model or the JSON object; enums as values."""
    value = raw.get(key) if isinstance(raw, Mapping) else getattr(raw, key, None)
    return getattr(value, "value", value)


def legs_of(raw: Any) -> list[Any]:
    return list(field(raw, "legs") or ())


def leg_suffix(raw: Any) -> str:
    """Which exit a leg is: its limit is the take-profit, its stop the stop-loss."""
    return TAKE_PROFIT if str(field(raw, "type") or field(raw, "order_type")) == "limit" else STOP_LOSS


def alpaca_named(client_order_id: str) -> bool:
    """Whether Alpaca made this client order id up (a UUID, as it names exit legs)."""
    try:
        uuid.UUID(client_order_id)
    except ValueError:
        return False
    return True


def to_order(order: Any, leg_of: tuple[str, str] | None = None) -> Order:
    """An alpaca-py ``Order`` (or the REST/stream order dict) as an ``Order``: Alpaca's status
    names map onto ours (``Order.reported_as``); the strategy is the client order id's prefix.
    ``leg_of`` = (our leg name, its entry's client order id) reads an exit leg under our name."""
    get = partial(field, order)
    coid, parent = leg_of if leg_of is not None else (str(get("client_order_id")), None)
    what = f"order {coid}"
    owner = "" if leg_of is None and alpaca_named(coid) else strategy_of(coid)  # a UUID names no strategy
    kind = OrderType(get("order_type") or get("type"))
    exits = {leg_suffix(leg): leg for leg in legs_of(order)}
    oco = str(get("order_class") or "") == "oco" and leg_of is None  # a leg of one is a plain stop
    return Order(
        client_order_id=coid,
        strategy=owner,
        symbol=str(get("symbol")),
        side=Side(get("side")),
        qty=shares(get("qty"), what),
        order_type=kind,
        limit_price=decimal(get("limit_price")),
        broker_order_id=str(get("id")),
        filled_qty=shares(get("filled_qty"), what),
        filled_avg_price=decimal(get("filled_avg_price")),
        created_at=moment(get("submitted_at")),
        updated_at=moment(get("updated_at")),
        # a trailing stop's stop price is Alpaca's running trigger, not a term of ours
        stop_price=decimal(get("stop_price")) if kind in (OrderType.STOP, OrderType.STOP_LIMIT) else None,
        trail_bps=_trail_bps(get("trail_percent"), get("trail_price"), what),
        time_in_force=TimeInForce(get("time_in_force") or "day"),
        take_profit=decimal(field(exits[TAKE_PROFIT], "limit_price")) if TAKE_PROFIT in exits and not oco else None,
        stop_loss=decimal(field(exits[STOP_LOSS], "stop_price")) if STOP_LOSS in exits else None,
        parent=parent,
        oco=oco,
    ).reported_as(str(get("status")))


def _trail_bps(percent: Any, price: Any, what: str) -> Decimal | None:
    """A trailing stop's distance as basis points (Alpaca's ``trail_percent`` x 100)."""
    if decimal(price) is not None:
        raise ValueError(f"{what}: a trailing stop by dollar distance (trail_price) is not one QuantTerminal holds")
    distance = decimal(percent)
    return None if distance is None else distance * 100


def to_order_update(data: Mapping[str, Any], client_order_id: str | None = None) -> OrderUpdate:
    """A ``trade_updates`` message's ``data`` as an ``OrderUpdate`` (``price``/``qty`` describe the
    execution; ``order.filled_qty`` is cumulative); ``client_order_id``: the order's name here, if
    not Alpaca's (an exit leg)."""
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
        client_order_id=client_order_id or str(order["client_order_id"]),
        event=event,
        timestamp=timestamp,
        cum_filled_qty=cum,
        execution=execution,
        broker_order_id=str(order.get("id")) if order.get("id") else None,
        filled_avg_price=decimal(order.get("filled_avg_price")),
    )
