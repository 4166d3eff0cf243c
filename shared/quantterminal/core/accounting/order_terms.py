"""An order's terms: its type, how long it works, and the checks every broker makes of them
before taking it (a stop needs a stop price on the right side, a bracket's take-profit and
stop-loss on either side of its entry, ...)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from quantterminal.core.models import Side

if TYPE_CHECKING:
    from quantterminal.core.accounting.orders import Order


class OrderType(enum.Enum):
    """An order's type: market and limit (the configuration's), stop and stop-limit (a strategy's
    own terms, ``Wanted``), trailing stops and exit legs (protection the kernel keeps)."""

    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"
    TRAILING_STOP = "trailing_stop"


PLACED_TYPES = (OrderType.MARKET, OrderType.LIMIT)  # the types the kernel's decisions place


class TimeInForce(enum.Enum):
    """How long an order works (Alpaca's ``time_in_force``): the session it first works in
    (``day``), until filled or canceled (``gtc``), or only at once -- whatever is not filled on the
    first chance is canceled (``ioc``)."""

    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"


class OrderTermsError(ValueError):
    """An order whose terms do not fit its type (a stop without a stop price, a bracket whose
    take-profit is on the wrong side of its stop-loss, ...)."""


def check_terms(order: Order) -> None:
    """Raise ``OrderTermsError`` unless the terms fit the order's type (a broker refuses such
    an order; the kernel never builds one)."""
    kind, stop, limit = order.order_type, order.stop_price, order.limit_price
    if kind in (OrderType.STOP, OrderType.STOP_LIMIT) and (stop is None or stop <= 0):
        raise OrderTermsError(f"a {kind.value} order needs a positive stop price")
    if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT) and (limit is None or limit <= 0):
        raise OrderTermsError(f"a {kind.value} order needs a positive limit price")
    if kind is OrderType.TRAILING_STOP and (order.trail_bps is None or not 0 < order.trail_bps < 10_000):
        raise OrderTermsError("a trailing stop needs trail_bps between 0 and 10,000")
    if kind not in (OrderType.STOP, OrderType.STOP_LIMIT) and stop is not None:
        raise OrderTermsError(f"a {kind.value} order takes no stop price")
    if order.oco:
        _check_oco(order)
        return
    exits = (order.take_profit, order.stop_loss)
    if any(p is not None for p in exits):
        if kind not in PLACED_TYPES:
            raise OrderTermsError("exit legs attach to a market or limit entry only")
        if order.time_in_force is TimeInForce.IOC:
            raise OrderTermsError("an entry with exit legs must be day or gtc")
        take, loss = exits
        if take is not None and loss is not None and (take > loss) != (order.side is Side.BUY):
            raise OrderTermsError(
                f"a {order.side.value} bracket's take-profit ({take}) must be "
                f"{'above' if order.side is Side.BUY else 'below'} its stop-loss ({loss})"
            )


def _check_oco(order: Order) -> None:
    """A one-cancels-other exit: a take-profit limit with its stop-loss on the other side."""
    limit, loss = order.limit_price, order.stop_loss
    if order.order_type is not OrderType.LIMIT or limit is None or loss is None or order.take_profit is not None:
        raise OrderTermsError("a one-cancels-other exit is a take-profit limit with a stop_loss (and no take_profit)")
    if order.time_in_force is TimeInForce.IOC:
        raise OrderTermsError("a one-cancels-other exit must be day or gtc")
    if (limit > loss) != (order.side is Side.SELL):
        raise OrderTermsError(
            f"a {order.side.value} one-cancels-other exit's take-profit ({limit}) must be "
            f"{'above' if order.side is Side.SELL else 'below'} its stop-loss ({loss})"
        )


_PRICES = ("stop_price", "trail_bps", "take_profit", "stop_loss")


def terms_document(order: Order) -> dict[str, Any]:
    """The terms beyond a plain day order, as stored (only those set: a plain order's document is
    as it was before orders had them)."""
    terms: dict[str, Any] = {name: str(getattr(order, name)) for name in _PRICES if getattr(order, name) is not None}
    if order.time_in_force is not TimeInForce.DAY:
        terms["time_in_force"] = order.time_in_force.value
    if order.parent is not None:
        terms["parent"] = order.parent
    if order.strategy_terms:
        terms["strategy_terms"] = True
    if order.oco:
        terms["oco"] = True
    return terms


def read_terms(doc: Mapping[str, Any]) -> dict[str, Any]:
    """``Order`` keyword arguments from a stored document's terms (absent: a plain day order)."""
    return {
        **{name: Decimal(str(doc[name])) for name in _PRICES if doc.get(name) is not None},
        "time_in_force": TimeInForce(doc.get("time_in_force", TimeInForce.DAY.value)),
        "parent": doc.get("parent"),
        "strategy_terms": bool(doc.get("strategy_terms", False)),
        "oco": bool(doc.get("oco", False)),
    }
