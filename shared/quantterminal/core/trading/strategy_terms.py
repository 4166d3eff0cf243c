"""A strategy's own order terms (``Wanted``) as the kernel places them: whole-tick prices on the
safe side, the checks a broker would make before taking them, and whether a working order still
carries out the strategy's answer (``core.strategies.wanted`` says what a strategy may ask)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from quantterminal.core.accounting.orders import Order, OrderType, TimeInForce
from quantterminal.core.models import Direction, Side
from quantterminal.core.money import round_to_tick, to_decimal
from quantterminal.core.strategies.wanted import Wanted


@dataclass(frozen=True, slots=True)
class PlacedTerms:
    """The terms of the order that carries out a ``Wanted`` on one side."""

    order_type: OrderType
    stop_price: Decimal | None
    limit_price: Decimal | None
    time_in_force: TimeInForce

    @property
    def price(self) -> Decimal:
        """The price it is sized and checked at: its limit, else its stop."""
        price = self.limit_price or self.stop_price
        assert price is not None  # a Wanted has one or the other
        return price


def placed_terms(terms: Wanted, side: Side) -> PlacedTerms:
    """``terms`` on ``side``, each price rounded to a whole tick away from a worse trade: a buy
    stop up (it triggers no lower than asked), a buy limit down (it pays no more), and the
    opposite for a sell."""
    buying = side is Side.BUY
    stop = None if terms.stop is None else round_to_tick(to_decimal(terms.stop), "up" if buying else "down")
    limit = None if terms.limit is None else round_to_tick(to_decimal(terms.limit), "down" if buying else "up")
    return PlacedTerms(OrderType(terms.order_type), stop, limit, TimeInForce(terms.time_in_force))


def not_placeable(placed: PlacedTerms, side: Side, close: Decimal) -> str:
    """Why an order on ``placed`` is not placed at the decision ``close`` (empty: it is), in the
    words of the decision's note: a stop the close has crossed already (a broker refuses it)."""
    stop = placed.stop_price
    if stop is not None and (stop <= close if side is Side.BUY else stop >= close):
        where = "at or below" if side is Side.BUY else "at or above"
        return f"stop {stop} is {where} the close {close}: already crossed, no order"
    return ""


def side_for(wanted: Direction, position: int) -> Side:
    """The side of the order that moves ``position`` toward ``wanted``."""
    return Side.BUY if (wanted.sign or -position) > 0 else Side.SELL


def carries(order: Order, wanted: Direction, terms: Wanted | None, position: int) -> bool:
    """Whether ``order`` (placed on a strategy's terms, still working) carries out the answer
    ``wanted`` on ``terms`` from ``position``: the same side, type, prices and time in force."""
    if terms is None:
        return False
    side = side_for(wanted, position)
    placed = placed_terms(terms, side)
    return (
        order.side is side
        and order.order_type is placed.order_type
        and order.stop_price == placed.stop_price
        and order.limit_price == placed.limit_price
        and order.time_in_force is placed.time_in_force
    )
