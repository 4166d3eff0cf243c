"""Alpaca's order rules, for the fake Alpaca server: which new orders it refuses (HTTP 422, code
42210000) and how an entry's exit legs live.

Sources, rule by rule (Alpaca's own words where they are known; where users report the rule but
not the text, the message is ours and says so by its form):
- "Orders at Alpaca" (bracket orders): ``bracket`` needs both ``take_profit.limit_price`` and
  ``stop_loss.stop_price``, ``oto`` one of them, on a market or limit entry that is ``day`` or
  ``gtc``; the take-profit must be above the entry's base price (its limit, else the market) and
  the stop-loss below it for a buy (mirrored for a sell), by at least a cent; no extended hours.
  The legs get client order ids Alpaca makes up (alpacahq/Alpaca-API#115 asks in vain for ours).
- "bracket orders must be entry orders" (alpaca-trade-api-js#248, a stop entry with legs).
- "bracket orders require take_profit.limit_price" (TraderAlice/OpenAlice#342, one leg sent as a
  bracket; one leg is ``oto``).
- take_profit / stop_loss sent without an ``order_class`` are ignored: a plain order is placed
  (alpaca-trade-api-go#181, alpaca-trade-api-js#247).
- After the entry fills, the take-profit is ``new`` and the stop-loss stays ``held`` until its
  stop triggers; a filled take-profit cancels the stop-loss (not streamed: alpaca-py#198), a
  filled stop-loss ends the take-profit as ``replaced`` (streamed).
- "OCO & OTO Orders Are Now Available" (Alpaca's announcement, with the request): ``oco`` exits
  a position already held -- a ``limit`` order at ``take_profit.limit_price`` whose one leg is the
  stop-loss at ``stop_loss.stop_price``; the first to fill cancels the other. Where that page is
  silent the rules are ours, by analogy with a bracket's legs once its entry filled: an ``oco``
  must be an exit ("oco orders must be exit orders", of no more shares than are held), a ``limit``
  ``day`` or ``gtc`` order whose ``limit_price`` (if sent) is its take-profit's; its stop-loss is
  ``held`` and must be away from the market; a filled take-profit cancels it unstreamed, a filled
  stop-loss ends the take-profit ``replaced``, streamed.
- Prices of a dollar or more in whole cents ("sub-penny increment does not fulfill minimum
  pricing criteria"); a trailing stop has exactly one of ``trail_price`` / ``trail_percent``, is
  ``day`` or ``gtc``, and is never a leg (alpacahq/Alpaca-API#233).
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

REFUSED = 42210000
ENTRY_TYPES = ("market", "limit")
LEG_CLASSES = ("bracket", "oto", "oco")


def refusal(body: dict[str, Any], mark: float | None, position: int) -> str | None:
    """Why Alpaca refuses the new order ``body`` (None: it takes it). ``mark``: the last price of
    its symbol, if known; ``position``: the account's shares in it (signed)."""
    kind, tif = body.get("type"), body.get("time_in_force")
    for where, name in (
        (body, "limit_price"),
        (body, "stop_price"),
        (body.get("take_profit") or {}, "limit_price"),
        (body.get("stop_loss") or {}, "stop_price"),
        (body.get("stop_loss") or {}, "limit_price"),
    ):
        value = where.get(name)
        price = Decimal(str(value)) if value is not None else None
        if price is not None and price >= 1 and price != price.quantize(Decimal("0.01")):
            return f"invalid {name} {value}. sub-penny increment does not fulfill minimum pricing criteria"
    if kind in ("stop", "stop_limit") and body.get("stop_price") is None:
        return "stop_price is required for stop orders"
    if kind in ("limit", "stop_limit") and body.get("limit_price") is None:
        return "limit_price is required for limit orders"
    if kind == "trailing_stop":
        trails = [body.get("trail_price"), body.get("trail_percent")]
        if sum(t is not None for t in trails) != 1:
            return "trailing stop orders need exactly one of trail_price or trail_percent"
        if tif not in ("day", "gtc"):
            return "trailing stop orders must be day or gtc"
    if body.get("extended_hours") and (kind != "limit" or tif != "day" or _order_class(body) != "simple"):
        return "extended hours order must be DAY limit orders"
    stop = body.get("stop_price")
    if kind in ("stop", "stop_limit") and mark is not None and stop is not None:
        if body["side"] == "sell" and float(stop) >= mark:
            return f"stop_price {stop} must be below the current price {mark} for a sell stop"
        if body["side"] == "buy" and float(stop) <= mark:
            return f"stop_price {stop} must be above the current price {mark} for a buy stop"
    if _order_class(body) in LEG_CLASSES:
        return _leg_refusal(body, mark, position)
    return None


def _leg_refusal(body: dict[str, Any], mark: float | None, position: int) -> str | None:
    cls, side = _order_class(body), body["side"]
    take = (body.get("take_profit") or {}).get("limit_price")
    loss = (body.get("stop_loss") or {}).get("stop_price")
    if cls == "oco":
        return _oco_refusal(body, take, loss, mark, position)
    if cls == "bracket" and take is None:
        return "bracket orders require take_profit.limit_price"
    if cls == "bracket" and loss is None:
        return "bracket orders require stop_loss.stop_price"
    if cls == "oto" and take is None and loss is None:
        return "oto orders require take_profit.limit_price or stop_loss.stop_price"
    reduces = position != 0 and (position > 0) == (side == "sell")
    if body.get("type") not in ENTRY_TYPES or reduces:
        return "bracket orders must be entry orders"
    if body.get("time_in_force") not in ("day", "gtc"):
        return f"{cls} orders must be day or gtc"
    base = float(body["limit_price"]) if body.get("limit_price") is not None else mark
    if base is None:
        return None
    up = side == "buy"
    if take is not None and (float(take) < base + 0.01 if up else float(take) > base - 0.01):
        return f"take_profit.limit_price must be {'>=' if up else '<='} base_price {'+' if up else '-'} 0.01"
    if loss is not None and (float(loss) > base - 0.01 if up else float(loss) < base + 0.01):
        return f"stop_loss.stop_price must be {'<=' if up else '>='} base_price {'-' if up else '+'} 0.01"
    return None


def _oco_refusal(body: dict[str, Any], take: Any, loss: Any, mark: float | None, position: int) -> str | None:
    if take is None:
        return "oco orders require take_profit.limit_price"
    if loss is None:
        return "oco orders require stop_loss.stop_price"
    if body.get("type") != "limit":
        return "oco orders must be limit orders"
    if body.get("limit_price") is not None and float(body["limit_price"]) != float(take):
        return "oco orders' limit_price must equal take_profit.limit_price"
    held = position if body["side"] == "sell" else -position
    if held <= 0 or float(body["qty"]) > held:
        return "oco orders must be exit orders"
    if body.get("time_in_force") not in ("day", "gtc"):
        return "oco orders must be day or gtc"
    if mark is not None and (float(loss) >= mark if body["side"] == "sell" else float(loss) <= mark):
        return f"stop_loss.stop_price must be {'<' if body['side'] == 'sell' else '>'} current price {mark}"
    return None


def _order_class(body: dict[str, Any]) -> str:
    return str(body.get("order_class") or "simple")


def legs(entry: dict[str, Any], body: dict[str, Any], new_order: Any) -> list[dict[str, Any]]:
    """The exit legs of the accepted ``entry`` (take-profit first, as Alpaca lists them), held;
    ``new_order(body)`` builds an order object. Without an order class the legs are ignored."""
    if _order_class(body) not in LEG_CLASSES:
        return []
    oco = _order_class(body) == "oco"  # the order is the take-profit: its one leg closes the same shares
    exit_side = body["side"] if oco else "sell" if body["side"] == "buy" else "buy"
    common = {"symbol": body["symbol"], "qty": body["qty"], "side": exit_side, "time_in_force": body["time_in_force"]}
    made = []
    take, loss = body.get("take_profit"), body.get("stop_loss")
    if oco:
        entry["limit_price"] = str(take["limit_price"])
    if take and not oco:
        made.append(new_order({**common, "type": "limit", "limit_price": take["limit_price"]}))
    if loss:
        kind = "stop_limit" if loss.get("limit_price") is not None else "stop"
        made.append(new_order({**common, "type": kind, "limit_price": loss.get("limit_price")}))
        made[-1]["stop_price"] = loss["stop_price"]
    for leg in made:
        leg |= {"client_order_id": str(uuid.uuid4()), "status": "held", "order_class": entry["order_class"]}
    return made


def trail(order: dict[str, Any], price: float) -> None:
    """A trailing stop's high-water mark and trigger after the market traded at ``price``."""
    percent = float(order.get("trail_percent") or 0)
    distance = float(order["trail_price"]) if order.get("trail_price") is not None else None
    if order["side"] == "sell":
        order["hwm"] = str(max(float(order["hwm"] or price), price))
        offset = distance if distance is not None else float(order["hwm"]) * percent / 100
        order["stop_price"] = str(round(float(order["hwm"]) - offset, 2))
    else:
        order["hwm"] = str(min(float(order["hwm"] or price), price))
        offset = distance if distance is not None else float(order["hwm"]) * percent / 100
        order["stop_price"] = str(round(float(order["hwm"]) + offset, 2))


def after_fill(
    orders: dict[str, dict[str, Any]], legs_of: dict[str, list[str]], order: dict[str, Any], stamp: str
) -> list[dict[str, Any]]:
    """What ``order``'s complete fill does to exit legs, and the trade_updates the venue sends for
    it: an entry's legs start working (the take-profit ``new``, the stop-loss ``held`` until its
    stop triggers); a filled leg ends its sibling."""
    sent = []
    for leg in (orders[c] for c in legs_of.get(order["client_order_id"], ())):
        if order["order_class"] == "oco":  # the take-profit filled: its stop-loss goes, unstreamed
            if leg["status"] not in ("filled", "canceled", "replaced", "expired"):
                leg |= {"status": "canceled", "canceled_at": stamp, "updated_at": stamp}
        elif leg["type"] == "limit":
            leg |= {"status": "new", "updated_at": stamp}
            sent.append(update("new", leg, stamp))
    entry = next((e for e, legs in legs_of.items() if order["client_order_id"] in legs), None)
    parent = orders.get(entry or "")
    if parent is not None and parent["order_class"] == "oco" and parent["status"] not in ("filled", "canceled"):
        parent |= {"status": "replaced", "replaced_at": stamp, "updated_at": stamp}  # its stop-loss filled
        sent.append(update("replaced", parent, stamp))
    for coid in legs_of.get(entry or "", ()):
        sibling = orders[coid]
        if coid == order["client_order_id"] or sibling["status"] in ("filled", "canceled", "replaced", "expired"):
            continue
        if order["type"] == "limit":  # the take-profit filled: the stop-loss's cancel is not streamed (alpaca-py#198)
            sibling |= {"status": "canceled", "canceled_at": stamp, "updated_at": stamp}
        else:  # the stop-loss filled: the take-profit ends replaced, streamed
            sibling |= {"status": "replaced", "replaced_at": stamp, "updated_at": stamp}
            sent.append(update("replaced", sibling, stamp))
    return sent


def update(event: str, order: dict[str, Any], stamp: str) -> dict[str, Any]:
    """The trade_updates message for ``event`` of ``order``."""
    return {"stream": "trade_updates", "data": {"event": event, "order": dict(order), "timestamp": stamp}}
