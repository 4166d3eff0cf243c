"""Exact money arithmetic: converting market prices to ``Decimal`` and rounding to valid ticks.

US equities trade in $0.01 increments at or above $1.00 and $0.0001 below (Reg NMS rule 612).
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

ZERO = Decimal(0)
CENT = Decimal("0.01")
SUB_PENNY = Decimal("0.0001")
ONE_DOLLAR = Decimal(1)


def to_decimal(value: float | int | str | Decimal) -> Decimal:
    """Convert a market price to an exact ``Decimal``.

    A float goes through its shortest ``repr``, which for every price that arrived as a short
    decimal string (``"689.85"``) gives back exactly that string, never the binary expansion.

    >>> to_decimal(689.85)
    Decimal('689.85')
    """
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"price must be finite, got {value!r}")
        result = Decimal(repr(value))
    else:
        result = Decimal(value)
    if not result.is_finite():
        raise ValueError(f"price must be finite, got {value!r}")
    return result


def tick_size(price: Decimal) -> Decimal:
    """The minimum price increment for a US equity at ``price``."""
    return CENT if price >= ONE_DOLLAR else SUB_PENNY


def round_to_tick(price: Decimal, direction: str = "nearest") -> Decimal:
    """Round ``price`` to a valid tick: ``"nearest"`` (half-even), ``"up"`` or ``"down"``."""
    rounding = {"nearest": ROUND_HALF_EVEN, "up": ROUND_CEILING, "down": ROUND_FLOOR}[direction]
    return price.quantize(tick_size(price), rounding=rounding)


def round_cents(amount: Decimal) -> Decimal:
    """Round a cash amount to whole cents, half-even (banker's rounding)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)
