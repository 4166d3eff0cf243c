"""Exact portfolio accounting: positions, cash, realised and unrealised P&L from fills.

Quantities are integer shares and money is ``Decimal``; nothing here ever rounds. Positions are
kept as FIFO lots so that realised P&L is a sum of exact products (average-cost accounting would
need a division on every partial close). The average entry price is derived for display.
Long and short positions, partial closes and flips through zero are all handled by ``apply``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from decimal import Decimal

from quantterminal.core.models import Fill, Side
from quantterminal.core.money import ZERO


class _Lot:
    """Shares bought (or sold short) together at one price; ``qty`` is signed."""

    __slots__ = ("price", "qty")

    def __init__(self, qty: int, price: Decimal) -> None:
        self.qty = qty
        self.price = price


class Position:
    """One symbol's holding as FIFO lots, all of the same sign."""

    __slots__ = ("_lots", "qty", "realized_pnl", "symbol")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.qty = 0
        self.realized_pnl = ZERO
        self._lots: deque[_Lot] = deque()

    @classmethod
    def from_lots(cls, symbol: str, lots: Iterable[tuple[int, Decimal]], realized_pnl: Decimal) -> Position:
        """Rebuild a position from its ``lots()`` (oldest first) and realised P&L."""
        position = cls(symbol)
        for qty, price in lots:
            position._lots.append(_Lot(qty, price))
            position.qty += qty
        position.realized_pnl = realized_pnl
        return position

    def lots(self) -> tuple[tuple[int, Decimal], ...]:
        """The open lots, oldest first, as ``(signed qty, price)``."""
        return tuple((lot.qty, lot.price) for lot in self._lots)

    @property
    def cost_basis(self) -> Decimal:
        """Signed cost of the open lots: positive for a long, negative for a short."""
        return sum((lot.qty * lot.price for lot in self._lots), ZERO)

    @property
    def avg_price(self) -> Decimal | None:
        """Average entry price of the open lots (for display; accounting uses the lots)."""
        if self.qty == 0:
            return None
        return self.cost_basis / self.qty

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        """P&L of the open lots marked at ``mark``."""
        return self.qty * mark - self.cost_basis

    def apply(self, side: Side, qty: int, price: Decimal) -> Decimal:
        """Apply a fill of ``qty`` shares and return the P&L it realised."""
        if qty <= 0:
            raise ValueError(f"fill quantity must be positive, got {qty}")
        signed = qty * side.sign
        realized = ZERO
        lots = self._lots
        # Close against opposite-signed lots first, oldest first.
        while signed and lots and (lots[0].qty > 0) != (signed > 0):
            lot = lots[0]
            take = min(abs(lot.qty), abs(signed))
            lot_sign = 1 if lot.qty > 0 else -1
            realized += (price - lot.price) * take * lot_sign
            lot.qty -= take * lot_sign
            if lot.qty == 0:
                lots.popleft()
            signed += take * lot_sign
        if signed:
            newest = lots[-1] if lots else None
            if newest is not None and newest.price == price and (newest.qty > 0) == (signed > 0):
                newest.qty += signed  # same price, same side: one lot (FIFO results are identical)
            else:
                lots.append(_Lot(signed, price))
        self.qty += qty * side.sign
        self.realized_pnl += realized
        return realized


class Portfolio:
    """Cash and positions of one account, updated only by fills."""

    __slots__ = ("cash", "commissions", "positions")

    def __init__(self, cash: Decimal) -> None:
        self.cash = cash
        self.positions: dict[str, Position] = {}
        self.commissions = ZERO

    def position(self, symbol: str) -> Position:
        """The position in ``symbol`` (created flat on first use)."""
        position = self.positions.get(symbol)
        if position is None:
            position = self.positions[symbol] = Position(symbol)
        return position

    def qty(self, symbol: str) -> int:
        """Signed shares held in ``symbol``."""
        position = self.positions.get(symbol)
        return position.qty if position is not None else 0

    def apply_fill(self, fill: Fill) -> Decimal:
        """Book ``fill``: move cash, update the position; return the realised P&L (gross)."""
        realized = self.position(fill.symbol).apply(fill.side, fill.qty, fill.price)
        self.cash -= fill.side.sign * fill.qty * fill.price + fill.commission
        self.commissions += fill.commission
        return realized

    @property
    def realized_pnl(self) -> Decimal:
        """Realised P&L of all positions, before commissions."""
        return sum((p.realized_pnl for p in self.positions.values()), ZERO)

    def market_value(self, marks: Mapping[str, Decimal]) -> Decimal:
        """Signed market value of the open positions at ``marks`` (one mark per held symbol)."""
        total = ZERO
        for symbol, position in self.positions.items():
            if position.qty:
                total += position.qty * marks[symbol]
        return total

    def equity(self, marks: Mapping[str, Decimal]) -> Decimal:
        """Cash plus the market value of the open positions."""
        return self.cash + self.market_value(marks)
