"""What the simulated venue does beyond market and limit orders, as Alpaca documents it: exit legs
(bracket and one-triggers-other), stops on the right side of the market, trailing stops' best
price, and the session a day order lives in. The fill rules themselves are the fill model's
(``core.simulation.fill_model``); this module keeps the venue's bookkeeping around them.

Alpaca, "Orders at Alpaca" (bracket orders): the entry's two exit legs are held until the entry
fills, then the take-profit limit and the stop-loss work as one-cancels-other. We name the legs
``<entry id>.tp`` and ``<entry id>.sl``; Alpaca names them itself and reports them in the entry's
``legs``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from quantterminal.adapters.broker.simulated_account import WorkingOrder
from quantterminal.core.accounting.orders import Order, OrderType
from quantterminal.core.market_data.calendar import session_bounds
from quantterminal.core.market_data.sessions import session_date
from quantterminal.core.models import Bar, Side
from quantterminal.core.money import to_decimal

TAKE_PROFIT, STOP_LOSS = "tp", "sl"  # the legs' id suffixes


def exit_legs(entry: Order) -> list[Order]:
    """The exit legs of ``entry`` (none for an order without), stop-loss first: a bar reaching both
    is worked in this order, so the stop fills (the fill model's rule for such a bar). A
    one-cancels-other exit has one leg, its stop-loss: the order itself is the take-profit."""
    # an entry's legs close what it opens; a one-cancels-other exit's leg closes what it closes
    exit_side = entry.side if entry.oco else Side.SELL if entry.side is Side.BUY else Side.BUY
    legs = []
    for suffix, price in ((STOP_LOSS, entry.stop_loss), (TAKE_PROFIT, entry.take_profit)):
        if price is None:
            continue
        coid = f"{entry.client_order_id}.{suffix}"
        legs.append(
            replace(
                entry,
                client_order_id=coid,
                side=exit_side,
                order_type=OrderType.STOP if suffix == STOP_LOSS else OrderType.LIMIT,
                limit_price=price if suffix == TAKE_PROFIT else None,
                stop_price=price if suffix == STOP_LOSS else None,
                take_profit=None,
                stop_loss=None,
                parent=entry.client_order_id,
                oco=False,
                events=frozenset(),
                broker_order_id=f"sim-{coid}",
            )
        )
    return legs


def wrong_side_of_market(order: Order, mark: Decimal | None) -> str:
    """Why the venue refuses ``order`` against the last price ``mark`` (empty: it does not). A
    stop must be away from the market in the direction it protects -- a sell stop below it, a buy
    stop above -- or it would trigger at once; a bracket's take-profit must be on the profitable
    side of its entry's price and its stop-loss on the other (Alpaca refuses both, HTTP 422)."""
    if order.oco:  # the take-profit limit may be marketable; its stop-loss must be away from the market
        loss = order.stop_loss
        if mark is not None and loss is not None and (loss >= mark if order.side is Side.SELL else loss <= mark):
            where = "below" if order.side is Side.SELL else "above"
            return f"stop_loss.stop_price {loss} must be {where} the market ({mark})"
        return ""
    if order.stop_price is not None and mark is not None:
        if order.side is Side.SELL and order.stop_price >= mark:
            return f"stop price {order.stop_price} must be below the market ({mark}) for a sell stop"
        if order.side is Side.BUY and order.stop_price <= mark:
            return f"stop price {order.stop_price} must be above the market ({mark}) for a buy stop"
    base = order.limit_price or mark
    if base is None:
        return ""
    up = order.side is Side.BUY
    if order.take_profit is not None and (order.take_profit <= base if up else order.take_profit >= base):
        where = "above" if up else "below"
        return f"take_profit.limit_price {order.take_profit} must be {where} the entry's base price {base}"
    if order.stop_loss is not None and (order.stop_loss >= base if up else order.stop_loss <= base):
        where = "below" if up else "above"
        return f"stop_loss.stop_price {order.stop_loss} must be {where} the entry's base price {base}"
    return ""


def session_close(at: datetime) -> datetime:
    """The close of the session a day order first working at ``at`` belongs to (its own day's)."""
    bounds = session_bounds(session_date(at))
    return bounds[1] if bounds is not None else at


def follow(side: Side, best: Decimal, bar: Bar) -> Decimal:
    """A trailing stop's best price after ``bar``: the highest high for a sell, the lowest low for a buy."""
    return max(best, to_decimal(bar.high)) if side is Side.SELL else min(best, to_decimal(bar.low))


class ExitLegBook:
    """Every entry's exit legs at the venue, and how much of its position each may still close."""

    def __init__(self, orders: dict[str, WorkingOrder]) -> None:
        self._orders = orders
        self._legs: dict[str, list[WorkingOrder]] = {}
        self.add(orders.values())

    def add(self, working: Iterable[WorkingOrder]) -> None:
        for w in working:
            if w.order.parent is not None:
                self._legs.setdefault(w.order.parent, []).append(w)

    def of(self, entry: WorkingOrder) -> list[WorkingOrder]:
        """``entry``'s legs, stop-loss first."""
        return list(self._legs.get(entry.order.client_order_id, ()))

    def held(self, entry: WorkingOrder) -> list[WorkingOrder]:
        """``entry``'s legs still waiting for it."""
        return [leg for leg in self._legs.get(entry.order.client_order_id, ()) if leg.held]

    def unprotected(self, leg: WorkingOrder) -> int:
        """Shares ``leg`` may still close: what its entry filled less what its legs closed (for a
        one-cancels-other exit: what neither it nor its leg has closed)."""
        assert leg.order.parent is not None
        entry = self._orders[leg.order.parent].order
        closed = sum(w.order.filled_qty for w in self._legs[leg.order.parent])
        return entry.qty - entry.filled_qty - closed if entry.oco else entry.filled_qty - closed

    def closed_by_legs(self, oco: WorkingOrder) -> int:
        """Shares of the one-cancels-other exit ``oco`` its stop-loss leg has closed."""
        return sum(w.order.filled_qty for w in self._legs.get(oco.order.client_order_id, ()))

    def closed(self, leg: WorkingOrder) -> list[WorkingOrder]:
        """The orders to cancel once ``leg`` filled: the others, if the position is closed (a
        one-cancels-other exit's take-profit included)."""
        if self.unprotected(leg) > 0:
            return []
        assert leg.order.parent is not None
        others = [w for w in self._legs[leg.order.parent] if w is not leg]
        entry = self._orders[leg.order.parent]
        if entry.order.oco:
            others.append(entry)
        return [w for w in others if not w.order.status.terminal]
