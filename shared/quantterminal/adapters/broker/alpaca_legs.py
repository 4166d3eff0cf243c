"""Alpaca's exit legs under the names QuantTerminal gives them.

Alpaca places a bracket's (or one-triggers-other's) take-profit and stop-loss as orders of their
own with client order ids it makes up: it ignores any we send for them (alpacahq/Alpaca-API#115,
alpaca-trade-api-csharp#617), and a leg's order object names no parent. The kernel knows a leg as
``<entry id>.tp`` / ``<entry id>.sl`` (as the simulated venue names them), so every order and update
read from Alpaca is renamed here before it leaves the adapter. The link is learnt from where Alpaca
shows it: the submit response and nested reads (``nested=true``) list an entry's ``legs``; the limit
leg is the take-profit, the stop (or stop-limit) leg the stop-loss.

A process that did not place the entry (the feed task's trade_updates reader, a Lambda started
cold) learns the link on first sight of an unknown leg by one nested read of recent orders
(``AlpacaBroker.learn_recent_legs``): the link lives at Alpaca, not in a store of ours.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

TAKE_PROFIT, STOP_LOSS = "tp", "sl"  # the suffixes of our leg names (as the simulated venue's)
LEG_CLASSES = frozenset({"bracket", "oto", "oco"})  # order classes whose orders have legs


def field(raw: Any, key: str) -> Any:
    """``key`` of an Alpaca order, whether an alpaca-py model or the JSON object; enums as values."""
    value = raw.get(key) if isinstance(raw, Mapping) else getattr(raw, key, None)
    return getattr(value, "value", value)


def legs_of(raw: Any) -> list[Any]:
    return list(field(raw, "legs") or ())


def flatten(raws: Iterable[Any]) -> Iterator[Any]:
    """Orders read nested (entries with their ``legs``), each entry followed by its legs."""
    for raw in raws:
        yield raw
        yield from legs_of(raw)


def leg_suffix(raw: Any) -> str:
    """Which exit a leg is: its limit is the take-profit, its stop the stop-loss."""
    return TAKE_PROFIT if str(field(raw, "type") or field(raw, "order_type")) == "limit" else STOP_LOSS


def is_leg_name(client_order_id: str) -> bool:
    return client_order_id.endswith((f".{TAKE_PROFIT}", f".{STOP_LOSS}"))


def may_be_leg(raw: Any) -> bool:
    """Whether ``raw`` could be a leg: of a class with legs, with none of its own (an entry read
    un-nested has none either, so this is a hint that asks for a lookup, never a verdict)."""
    return str(field(raw, "order_class") or "") in LEG_CLASSES and not legs_of(raw)


class LegNames:
    """Alpaca's leg order ids <-> our leg names, learnt from entries read with their legs."""

    def __init__(self) -> None:
        self._name: dict[str, tuple[str, str]] = {}  # Alpaca's leg id -> (our leg name, its entry's id)
        self._alpaca_id: dict[str, str] = {}  # our leg name -> Alpaca's leg id
        self._lock = threading.Lock()  # the stream's thread and the caller's both learn

    def learn(self, entry: Any) -> list[str]:
        """Remember ``entry``'s legs (an order read with them); the leg names learnt."""
        parent = str(field(entry, "client_order_id"))
        names = []
        with self._lock:
            for leg in legs_of(entry):
                name = f"{parent}.{leg_suffix(leg)}"
                self._name[str(field(leg, "id"))] = (name, parent)
                self._alpaca_id[name] = str(field(leg, "id"))
                names.append(name)
        return names

    def of(self, raw: Any) -> tuple[str, str] | None:
        """(our name, entry id) of the leg ``raw``, if it is a leg we know."""
        return self._name.get(str(field(raw, "id")))

    def alpaca_id(self, name: str) -> str | None:
        """Alpaca's id for our leg ``name``, if known."""
        return self._alpaca_id.get(name)
