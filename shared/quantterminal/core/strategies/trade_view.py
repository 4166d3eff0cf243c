"""What a strategy instance may read of its own trade in a symbol: its position as the kernel
books it (quantity, average entry price, when it was opened, unrealised P&L at the bar's close)
and its orders still working -- the same in the backtest, the paper run and the Lambdas.

It is built by the kernel from its state (the state store's position and open orders), never
from the strategy's own bookkeeping, and handed to a strategy that declares ``uses_trade`` just
before each bar it decides on (``Strategy.trade``). It holds what was known at that bar's close:
the fills of orders worked during the bar, nothing later. A strategy that wants protection from
its entry price (a stop 0.3% below where it actually bought, a time stop from when it did) reads
it here instead of guessing from the price it decided at.

Read-only: a strategy changes its position only by the direction it answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from quantterminal.core.models import Direction, Side
from quantterminal.core.money import ZERO


@dataclass(frozen=True, slots=True)
class WorkingOrder:
    """One of the instance's orders in the symbol that has not finished (a limit resting, a
    market order awaiting its fill), as the strategy may see it: its terms and progress. Not an
    order record (``core.accounting.orders.Order`` is the one): a strategy acts on orders only
    through the direction it answers."""

    side: Side
    qty: int
    filled_qty: int
    order_type: str  # "market", "limit", ... (``core.accounting.orders.OrderType`` values)
    limit_price: Decimal | None
    placed_at: datetime | None
    stop_price: Decimal | None = None  # a stop or stop-limit order's trigger

    @property
    def remaining_qty(self) -> int:
        return self.qty - self.filled_qty


@dataclass(frozen=True, slots=True)
class TradeView:
    """The instance's position and working orders in one symbol at a bar's close (see the module
    docs). ``qty`` is signed (negative: short); the entry fields are ``None`` while flat."""

    qty: int = 0
    avg_entry_price: Decimal | None = None  # of the open lots (FIFO), exact
    entry_time: datetime | None = None  # the fill that opened the position (from flat, or a reversal)
    unrealized_pnl: Decimal = ZERO  # qty x (the bar's close - avg_entry_price)
    realized_pnl: Decimal = ZERO  # booked in this symbol by this instance so far
    working: tuple[WorkingOrder, ...] = ()

    @property
    def direction(self) -> Direction:
        """Where the position points (what answering that direction would keep)."""
        return Direction.FLAT if self.qty == 0 else Direction.LONG if self.qty > 0 else Direction.SHORT

    @property
    def is_flat(self) -> bool:
        return self.qty == 0

    @property
    def return_since_entry(self) -> float | None:
        """The unrealised P&L as a fraction of the entry cost (0.01: up 1%); ``None`` while flat."""
        if self.qty == 0 or self.avg_entry_price is None:
            return None
        return float(self.unrealized_pnl / (abs(self.qty) * self.avg_entry_price))


FLAT = TradeView()  # no position, nothing working: what a strategy sees before its first fill


def trade_view(
    qty: int,
    avg_entry_price: Decimal | None,
    entry_time: datetime | None,
    realized_pnl: Decimal,
    close: Decimal,
    working: tuple[WorkingOrder, ...] = (),
) -> TradeView:
    """The view of a position marked at ``close`` (flat and nothing working: ``FLAT``)."""
    if qty == 0 or avg_entry_price is None:
        return FLAT if not working and realized_pnl == ZERO else TradeView(realized_pnl=realized_pnl, working=working)
    return TradeView(qty, avg_entry_price, entry_time, qty * (close - avg_entry_price), realized_pnl, working)


__all__ = ["FLAT", "TradeView", "WorkingOrder", "trade_view"]
