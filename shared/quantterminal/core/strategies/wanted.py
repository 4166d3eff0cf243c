"""A strategy's answer with the order it wants to get there: a stop entry above a channel, a limit
at a band, how long it may work.

A plain ``Direction`` answer is carried out with the configuration's order (``[orders] type``: a
limit at the close moved by the offset, or a market order, worked for one cancel age). A strategy
whose edge is *where* it trades -- a breakout that must buy only if the high is taken out, a
reversion that must buy only at its band -- answers ``Wanted`` instead, as a LEAN algorithm calls
``StopMarketOrder`` or a backtrader one ``buy(exectype=Order.Stop, price=...)``::

    return Wanted(Direction.LONG, stop=self.high.value)          # buy if the channel's high trades
    return Wanted(Direction.FLAT, limit=band, time_in_force="gtc")  # leave at the band, however long

The kernel places it in every environment the same way (``core.trading.engine``): prices rounded
to a whole tick on the safe side (a buy stop up, a buy limit down), sized at the price it would
trade at, through the risk manager. It works until it fills, its time in force ends, or the
strategy's answer changes (another direction or other terms): then it is canceled, and the new
answer is carried out once the cancel is booked. Answering the same ``Wanted`` bar after bar
keeps the one order working. A stop the close has already crossed is not placed (the broker
would refuse it: a buy stop must be above the market); the strategy decides again next bar.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from quantterminal.core.models import Direction
from quantterminal.core.money import to_decimal

Price = float | Decimal | int
TIMES_IN_FORCE = ("day", "gtc", "ioc")


@dataclass(frozen=True, slots=True)
class Wanted:
    """The direction wanted, reached with a stop (``stop``), a limit (``limit``) or a stop-limit
    order (both: a limit at ``limit`` once ``stop`` trades), working for ``time_in_force``: the
    session (``"day"``), until filled or canceled (``"gtc"``), or at once only (``"ioc"``)."""

    direction: Direction
    stop: Price | None = None
    limit: Price | None = None
    time_in_force: str = "day"

    def __post_init__(self) -> None:
        if not isinstance(self.direction, Direction):
            raise ValueError(f"Wanted: direction must be a Direction, got {self.direction!r}")
        if self.stop is None and self.limit is None:
            raise ValueError(
                "Wanted: give a stop or a limit price (answer the Direction itself for the configuration's order)"
            )
        for name in ("stop", "limit"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not _positive(value)):
                raise ValueError(f"Wanted: {name} must be a positive, finite price, got {value!r}")
        if self.time_in_force not in TIMES_IN_FORCE:
            raise ValueError(
                f"Wanted: time_in_force must be one of {', '.join(TIMES_IN_FORCE)}, got {self.time_in_force!r}"
            )

    @property
    def order_type(self) -> str:
        """``"stop"``, ``"limit"`` or ``"stop_limit"`` (``core.accounting.orders.OrderType`` values)."""
        if self.stop is None:
            return "limit"
        return "stop" if self.limit is None else "stop_limit"

    def state(self) -> dict[str, Any]:
        """As plain data, for a snapshot's record of the answer given (prices exactly, as text)."""
        return {
            "stop": None if self.stop is None else str(self.stop),
            "limit": None if self.limit is None else str(self.limit),
            "tif": self.time_in_force,
        }

    @classmethod
    def from_state(cls, direction: Direction, state: dict[str, Any]) -> Wanted:
        """The answer ``state()`` recorded (its prices as Decimals of the same text)."""
        stop, limit = state.get("stop"), state.get("limit")
        return cls(
            direction,
            None if stop is None else Decimal(stop),
            None if limit is None else Decimal(limit),
            state.get("tif", "day"),
        )

    def same_as(self, other: Wanted | None) -> bool:
        """The same terms, whatever the prices' types (a float, or the Decimal a snapshot restores)."""
        return (
            other is not None
            and self.direction is other.direction
            and _exact(self.stop) == _exact(other.stop)
            and _exact(self.limit) == _exact(other.limit)
            and self.time_in_force == other.time_in_force
        )


def _positive(value: Price) -> bool:
    try:
        return math.isfinite(value) and value > 0
    except (TypeError, ValueError):  # not a number, or a signalling NaN
        return False


def _exact(value: Price | None) -> Decimal | None:
    return None if value is None else to_decimal(value)


def direction_of(answer: Direction | Wanted | None) -> Direction | None:
    """The direction an answer wants (``None``: no answer yet)."""
    return answer.direction if isinstance(answer, Wanted) else answer
