"""Position sizing: how many shares a new position gets."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from quantterminal.core.models import Direction


def shares_for(fraction: Decimal, equity: Decimal, price: Decimal) -> int:
    """``floor(fraction × equity / price)`` shares, never negative.

    >>> shares_for(Decimal("0.10"), Decimal("100000"), Decimal("689.85"))
    14
    """
    if price <= 0:
        raise ValueError(f"price must be positive, got {price}")
    if equity <= 0:
        return 0
    return int((fraction * equity / price).to_integral_value(rounding=ROUND_FLOOR))


def target_quantity(wanted: Direction, current_qty: int, fraction: Decimal, equity: Decimal, price: Decimal) -> int:
    """The signed position to hold after a decision.

    A held position is not resized while the direction stays the same; a new (or flipped)
    position is sized with ``shares_for`` at the decision's equity and price.
    """
    sign = wanted.sign
    if sign == 0:
        return 0
    if current_qty and (current_qty > 0) == (sign > 0):
        return current_qty
    return sign * shares_for(fraction, equity, price)
