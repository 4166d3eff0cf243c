"""Market data and trading value types shared by every layer.

Market data (``Bar``, ``Trade``, ``Quote``) carries prices as ``float``: they are measurements
fed to indicators and signal math, and the providers send them as JSON numbers. Anything of
record -- fills, positions, cash, P&L -- is exact ``Decimal`` (see ``core.money``), converted
from a market price with ``money.to_decimal`` exactly once, where a price becomes money.

All timestamps are timezone-aware UTC ``datetime`` objects.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


class Direction(enum.Enum):
    """The position a strategy wants to hold: long, flat or short."""

    LONG = "long"
    FLAT = "flat"
    SHORT = "short"

    @property
    def sign(self) -> int:
        """+1 for long, 0 for flat, -1 for short."""
        return _DIRECTION_SIGN[self]


_DIRECTION_SIGN = {Direction.LONG: 1, Direction.FLAT: 0, Direction.SHORT: -1}


class Side(enum.Enum):
    """The side of an order or a fill."""

    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for a buy (adds shares), -1 for a sell."""
        return 1 if self is Side.BUY else -1


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar for one symbol.

    ``timestamp`` is the bar's **start** (Alpaca's and Polygon's convention): the one-minute bar
    stamped 14:30:00Z holds the trades from 14:30:00.000 to 14:30:59.999. A strategy sees a bar
    only once it has closed, i.e. after ``timestamp + interval``.
    """

    symbol: str
    timestamp: datetime
    open: float
    high: float
    low: float
    close: float
    volume: int
    vwap: float | None = None
    trade_count: int | None = None


@dataclass(frozen=True, slots=True)
class Trade:
    """One print on the tape: price and size at an exchange timestamp."""

    symbol: str
    timestamp: datetime
    price: float
    size: int
    trade_id: str | None = None
    exchange: str | None = None
    conditions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Quote:
    """The best bid and offer at an exchange timestamp."""

    symbol: str
    timestamp: datetime
    bid_price: float
    bid_size: int
    ask_price: float
    ask_size: int


@dataclass(frozen=True, slots=True)
class Signal:
    """A strategy's decision: the direction it wants for ``symbol`` as of the close of the bar
    that started at ``bar_time``."""

    strategy: str
    symbol: str
    bar_time: datetime
    direction: Direction
    price: float


@dataclass(frozen=True, slots=True)
class Fill:
    """An execution: ``qty`` shares (always positive) at an exact ``price``.

    ``order_id`` is the client order id; ``execution_id`` identifies this execution uniquely
    (the broker's execution id), so a fill delivered twice is recognised as the same fill.
    """

    symbol: str
    timestamp: datetime
    side: Side
    qty: int
    price: Decimal
    commission: Decimal
    order_id: str
    execution_id: str


@dataclass(frozen=True, slots=True)
class Execution:
    """One execution reported by the broker: ``qty`` shares at ``price``.

    ``cum_qty`` is the order's cumulative filled quantity once this execution is in, when the
    broker says so. It identifies the execution across reports that name it differently: Alpaca's
    stream gives an execution id, its REST account activities another id for the same execution,
    and both carry the cumulative quantity."""

    execution_id: str
    qty: int
    price: Decimal
    timestamp: datetime
    cum_qty: int | None = None
