"""Order updates the trade_updates stream missed, read back from Alpaca's REST API.

Alpaca's stream does not replay: whatever happened while it was down (or connected but mute,
alpaca-py issue #740) is only in the REST API. ``missed_updates(broker, since)`` reads it back as
the ``OrderUpdate``s the stream would have sent:

- every execution since ``since`` from the account activities (``GET /v2/account/activities/FILL``
  with ``after``, ascending, 100 per page, the next page asked for with ``page_token`` = the last
  activity's id -- Alpaca's documented paging), as a ``fill``/``partial_fill`` carrying the
  activity's price, quantity, time and cumulative quantity. The cumulative quantity is what makes
  it safe to send an execution the stream may already have delivered under its own id: the order
  state counts one execution per cumulative quantity (``Order.apply``);
- every order submitted in the last ``order_lookback`` that is finished (``GET /v2/orders``
  ``status=all``, paged), as its terminal event (canceled, expired, rejected, replaced, filled),
  so an order canceled while the stream was away does not stay open here.

Activities name the broker's order id, not ours: the client order id comes from the orders read.
An exit leg works until it fills or its sibling does, days after it was submitted (gtc): its
entry is read again (nested) whenever one of its legs filled, so the sibling's end is found too --
Alpaca does not stream a stop-loss canceled by its take-profit's fill (alpaca-py#198), and the
order listing only reaches back ``order_lookback`` by submit time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from alpaca.trading.enums import QueryOrderStatus

from quantterminal.adapters.broker.alpaca_messages import FractionalQuantity, decimal, moment, shares
from quantterminal.core.accounting.orders import OrderStatus, OrderUpdate
from quantterminal.core.models import Execution

if TYPE_CHECKING:
    from quantterminal.adapters.broker.alpaca_broker import AlpacaBroker

ACTIVITIES_PAGE = 100  # Alpaca's maximum page size for activities without a date
ORDER_LOOKBACK = timedelta(days=1)  # day orders older than this finished; gtc legs are read by their entry
_TERMINAL = {
    OrderStatus.FILLED: "fill",
    OrderStatus.CANCELED: "canceled",
    OrderStatus.EXPIRED: "expired",
    OrderStatus.REJECTED: "rejected",
    OrderStatus.REPLACED: "replaced",
}


def fill_activities(broker: AlpacaBroker, since: datetime) -> list[Mapping[str, Any]]:
    """Every FILL activity after ``since``, oldest first, page by page."""
    found: list[Mapping[str, Any]] = []
    token: str | None = None
    while True:
        params: dict[str, Any] = {"after": since.isoformat(), "direction": "asc", "page_size": ACTIVITIES_PAGE}
        if token:
            params["page_token"] = token
        raw = broker.call("fill activities", partial(broker.client.get, "/account/activities/FILL", params))
        page = [a for a in raw or () if isinstance(a, Mapping)]
        found.extend(page)
        if len(page) < ACTIVITIES_PAGE:
            return found
        token = str(page[-1]["id"])


def missed_updates(
    broker: AlpacaBroker, since: datetime, now: datetime, order_lookback: timedelta = ORDER_LOOKBACK
) -> list[OrderUpdate]:
    """What the stream would have delivered since ``since``: executions first (oldest first), then
    the terminal events of finished orders (an order's fill is booked before it is closed)."""
    orders = {o.broker_order_id: o for o in broker.orders(QueryOrderStatus.ALL, after=now - order_lookback)}
    updates: list[OrderUpdate] = []
    filled_legs_of: set[str] = set()  # entries one of whose legs filled
    for activity in fill_activities(broker, since):
        order_id = str(activity.get("order_id") or "")
        try:
            order = orders.get(order_id)
            if order is None:
                order = orders[order_id] = broker.order_by_id(order_id)
            updates.append(_execution_update(activity, order.client_order_id))
            if order.parent is not None:
                filled_legs_of.add(order.parent)
        except (FractionalQuantity, ValueError, KeyError) as exc:  # one foreign fill must not stall the rest
            broker.alert(f"catch-up skips fill activity {activity.get('id')} ({activity.get('symbol')}): {exc}")
    for entry in sorted(filled_legs_of):  # the siblings of a filled leg, however old
        orders.update((leg.broker_order_id, leg) for leg in broker.read_legs(entry))
    for order in orders.values():
        event = _TERMINAL.get(order.status) or ("done_for_day" if "done_for_day" in order.events else None)
        if event is None:
            continue
        updates.append(
            OrderUpdate(
                order.client_order_id,
                event,
                order.updated_at or order.created_at or now,
                order.filled_qty,
                None,
                order.broker_order_id,
            )
        )
    return updates


def _execution_update(activity: Mapping[str, Any], client_order_id: str) -> OrderUpdate:
    what = f"activity {activity.get('id')}"
    timestamp = moment(activity.get("transaction_time"))
    price = decimal(activity.get("price"))
    if timestamp is None or price is None or not activity.get("id"):
        raise ValueError(f"{what} lacks an id, a time or a price")
    cum = shares(activity.get("cum_qty"), what)
    execution = Execution(str(activity["id"]), shares(activity.get("qty"), what), price, timestamp, cum)
    event = "fill" if str(activity.get("type")) == "fill" else "partial_fill"
    return OrderUpdate(client_order_id, event, timestamp, cum, execution, str(activity.get("order_id")))
