"""Alpaca's exit legs under the names QuantTerminal gives them.

Alpaca places a bracket's (or one-triggers-other's) take-profit and stop-loss as orders of their
own with client order ids it makes up: it ignores any we send for them (alpacahq/Alpaca-API#115,
alpaca-trade-api-csharp#617), and a leg's order object names no parent. The kernel knows a leg as
``<entry id>.tp`` / ``<entry id>.sl`` (as the simulated venue names them), so every order and update
read from Alpaca is renamed here before it leaves the adapter. The link is learnt from where Alpaca
shows it: the submit response and nested reads (``nested=true``) list an entry's ``legs``; the limit
leg is the take-profit, the stop (or stop-limit) leg the stop-loss.

A process that did not place the entry (the feed task's trade_updates reader, a Lambda started
cold) learns the link on first sight of an unknown leg (``leg_name``): one nested read of the
orders of its symbol submitted within ``LEG_SEARCH`` of it -- the legs are created by the entry's
request, so they share its submit time (an assumption from Alpaca's nested listings, not a
documented guarantee; a leg not found is passed on under Alpaca's name and reconciliation alerts).
The link lives at Alpaca, not in a store of ours.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.requests import GetOrderByIdRequest, GetOrdersRequest

from quantterminal.adapters.broker.alpaca_messages import (
    STOP_LOSS,
    TAKE_PROFIT,
    alpaca_named,
    field,
    leg_suffix,
    legs_of,
    moment,
)
from quantterminal.core.trading.broker import BrokerRejected

if TYPE_CHECKING:
    from quantterminal.adapters.broker.alpaca_broker import AlpacaBroker

LEG_CLASSES = frozenset({"bracket", "oto", "oco"})  # order classes whose orders have legs
LEG_SEARCH = timedelta(seconds=2)  # a leg is created with its entry: the entry is this close to it in time
SEARCH_PAGE = 500  # Alpaca's maximum orders per request
REMEMBERED = 20_000  # legs whose names are kept (a forgotten one is learnt again from Alpaca)


def is_leg_name(client_order_id: str) -> bool:
    return client_order_id.endswith((f".{TAKE_PROFIT}", f".{STOP_LOSS}"))


def may_be_leg(raw: Any) -> bool:
    """Whether ``raw`` could be a leg: of a class with legs, with none of its own (an entry read
    un-nested has none either, so this is a hint that asks for a lookup, never a verdict)."""
    return str(field(raw, "order_class") or "") in LEG_CLASSES and not legs_of(raw)


class LegNames:
    """Alpaca's leg order ids <-> our leg names, learnt from entries read with their legs."""

    def __init__(self, remembered: int = REMEMBERED) -> None:
        self._name: dict[str, tuple[str, str]] = {}  # Alpaca's leg id -> (our leg name, its entry's id)
        self._alpaca_id: dict[str, str] = {}  # our leg name -> Alpaca's leg id
        self._remembered = remembered
        self._lock = threading.Lock()  # the stream's thread and the caller's both learn

    def learn(self, entry: Any) -> None:
        """Remember ``entry``'s legs (an order read with them)."""
        parent = str(field(entry, "client_order_id"))
        with self._lock:
            for leg in legs_of(entry):
                name = f"{parent}.{leg_suffix(leg)}"
                self._name[str(field(leg, "id"))] = (name, parent)
                self._alpaca_id[name] = str(field(leg, "id"))
            while len(self._name) > self._remembered:  # oldest first (dicts keep insertion order)
                forgotten, (name, _) = next(iter(self._name.items()))
                del self._name[forgotten]
                self._alpaca_id.pop(name, None)

    def of(self, raw: Any) -> tuple[str, str] | None:
        """(our name, entry id) of the leg ``raw``, if it is a leg we know."""
        return self._name.get(str(field(raw, "id")))

    def alpaca_id(self, name: str) -> str | None:
        """Alpaca's id for our leg ``name``, if known."""
        return self._alpaca_id.get(name)


def leg_name(broker: AlpacaBroker, raw: Any) -> tuple[str, str] | None:
    """(our name, entry id) of the order ``raw`` if it is an exit leg: known, else learnt from
    the entries submitted in the same instant (``None``: not a leg, or not one of ours)."""
    known = broker.legs.of(raw)
    if known is None and may_be_leg(raw) and alpaca_named(str(field(raw, "client_order_id"))):
        at = moment(field(raw, "submitted_at")) or moment(field(raw, "created_at"))
        if at is not None:
            request = GetOrdersRequest(
                status=QueryOrderStatus.ALL,
                after=at - LEG_SEARCH,
                until=at + LEG_SEARCH,
                nested=True,
                limit=SEARCH_PAGE,
                symbols=[str(field(raw, "symbol"))],
            )
            for entry in broker.call("orders near a leg", partial(broker.client.get_orders, request)):
                broker.legs.learn(entry)
            known = broker.legs.of(raw)
    return known


def nested_entry(broker: AlpacaBroker, client_order_id: str) -> Any | None:
    """The entry ``client_order_id`` read with its legs (learnt), or ``None`` if Alpaca has none."""
    try:
        flat = broker.call("get order", lambda: broker.client.get_order_by_client_id(client_order_id))
    except BrokerRejected as exc:
        if "HTTP 404" in str(exc):
            return None
        raise
    nested = GetOrderByIdRequest(nested=True)
    raw = broker.call("get order", lambda: broker.client.get_order_by_id(str(field(flat, "id")), nested))
    broker.legs.learn(raw)
    return raw
