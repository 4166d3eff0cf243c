"""Round-trip trades: from the fill that opens a position to the fill that closes it.

A round trip starts when a symbol's position leaves zero and ends when it returns to zero; a fill
that flips the position through zero ends one round trip and starts the next with the rest.
Entry and exit prices are share-weighted averages of the fills on each side; ``pnl`` is the exact
realised P&L net of every commission paid on the round trip's fills.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from quantterminal.core.accounting.order_ids import STOP_EXIT, TIME_EXIT, intent_of
from quantterminal.core.accounting.orders import Order, OrderType
from quantterminal.core.models import Direction, Fill
from quantterminal.core.money import ZERO

EXIT_REASONS = ("signal", "stop", "take-profit", "trailing", "time", "gap-exit")  # what can close a round trip


def exit_reason(order: Order | None) -> str:
    """What closing a trade with ``order`` means: an exit leg's stop-loss or take-profit, a
    trailing stop, a stop, the configured longest hold ("time"), or the strategy's own decision
    (``None``: an order not known)."""
    if order is None:
        return "signal"
    if order.order_type is OrderType.TRAILING_STOP:
        return "trailing"
    if order.order_type in (OrderType.STOP, OrderType.STOP_LIMIT):
        return "stop"
    if order.parent is not None or order.oco:  # a leg's limit, or a one-cancels-other exit's
        return "take-profit"
    intent = intent_of(order.client_order_id)
    return "time" if intent == TIME_EXIT else "stop" if intent == STOP_EXIT else "signal"


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """A closed trade."""

    symbol: str
    side: Direction
    qty: int
    entry_time: datetime
    exit_time: datetime
    entry_price: Decimal
    exit_price: Decimal
    gross_pnl: Decimal
    commission: Decimal
    exit_reason: str = "signal"  # what closed it: signal, stop, take-profit, trailing, gap-exit (``EXIT_REASONS``)
    strategy: str = ""  # the instance that traded it (its own position: instances on one symbol never net)

    @property
    def pnl(self) -> Decimal:
        """Realised P&L after commissions."""
        return self.gross_pnl - self.commission


class _OpenTrip:
    __slots__ = (
        "commission",
        "entry_notional",
        "entry_qty",
        "entry_time",
        "exit_notional",
        "exit_qty",
        "gross",
        "side",
    )

    def __init__(self, side: Direction, entry_time: datetime) -> None:
        self.side = side
        self.entry_time = entry_time
        self.entry_qty = 0
        self.entry_notional = ZERO
        self.exit_qty = 0
        self.exit_notional = ZERO
        self.gross = ZERO
        self.commission = ZERO


class RoundTripBook:
    """Turns a time-ordered stream of fills (with the P&L each realised) into round trips, one
    position per instance and symbol: two instances trading one symbol make their own trips, as
    the kernel books their own positions (the account's net would merge and split them)."""

    def __init__(self) -> None:
        self._open: dict[tuple[str, str], _OpenTrip] = {}
        self._qty: dict[tuple[str, str], int] = {}
        self.closed: list[RoundTrip] = []

    def on_fill(self, fill: Fill, realized: Decimal, reason: str = "signal", strategy: str = "") -> RoundTrip | None:
        """Record ``fill`` of ``strategy``'s position, which realised ``realized``; return the
        round trip it closed, if any (closed for ``reason``: what the order that filled was).

        On a flip the whole commission of the flipping fill is charged to the round trip it
        closes (splitting it pro rata would need an inexact division).
        """
        symbol = fill.symbol
        key = (strategy, symbol)
        before = self._qty.get(key, 0)
        signed = fill.side.sign * fill.qty
        after = before + signed
        self._qty[key] = after
        reducing = before != 0 and (signed > 0) != (before > 0)
        closing_qty = min(fill.qty, abs(before)) if reducing else 0
        opening_qty = fill.qty - closing_qty
        commission_left = fill.commission
        closed: RoundTrip | None = None
        trip = self._open.get(key)
        if trip is not None:
            if closing_qty:
                trip.exit_qty += closing_qty
                trip.exit_notional += closing_qty * fill.price
                trip.gross += realized
            else:
                trip.entry_qty += fill.qty
                trip.entry_notional += fill.qty * fill.price
            trip.commission += fill.commission
            commission_left = ZERO
            if after == 0 or (after > 0) != (before > 0):
                closed = RoundTrip(
                    symbol=symbol,
                    side=trip.side,
                    qty=trip.entry_qty,
                    entry_time=trip.entry_time,
                    exit_time=fill.timestamp,
                    entry_price=trip.entry_notional / trip.entry_qty,
                    exit_price=trip.exit_notional / trip.exit_qty,
                    gross_pnl=trip.gross,
                    commission=trip.commission,
                    exit_reason=reason,
                    strategy=strategy,
                )
                self.closed.append(closed)
                del self._open[key]
                trip = None
        if trip is None and after != 0:
            trip = _OpenTrip(Direction.LONG if after > 0 else Direction.SHORT, fill.timestamp)
            trip.entry_qty = opening_qty
            trip.entry_notional = opening_qty * fill.price
            trip.commission = commission_left
            self._open[key] = trip
        return closed

    def open_symbols(self) -> list[str]:
        """Symbols with a round trip still open (of any instance)."""
        return sorted({symbol for _, symbol in self._open})
