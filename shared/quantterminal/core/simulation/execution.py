"""Simulated execution costs: pluggable slippage and commission models.

Both default to zero so that backtests compare like with like; the backtester, the simulated
broker and the divergence report all take the same models.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from quantterminal.core.models import Side
from quantterminal.core.money import ZERO, round_cents, round_to_tick

_BPS = Decimal(10_000)


class SlippageModel(Protocol):
    """Moves a market order's reference price against the trader."""

    def fill_price(self, side: Side, reference: Decimal) -> Decimal:
        """The price a market order on ``side`` gets when the market is at ``reference``."""
        ...


class CommissionModel(Protocol):
    """The commission charged for one fill."""

    def commission(self, qty: int, price: Decimal) -> Decimal:
        """Commission for ``qty`` shares at ``price``, in dollars."""
        ...


@dataclass(frozen=True)
class BpsSlippage:
    """Slippage of a fixed number of basis points, rounded to a valid tick against the trader:
    buys pay ``reference × (1 + bps/10⁴)`` rounded up, sells get ``reference × (1 − bps/10⁴)``
    rounded down. Zero bps leaves the price untouched."""

    bps: Decimal = ZERO

    def __post_init__(self) -> None:
        if not self.bps.is_finite() or self.bps < 0:
            raise ValueError(f"slippage must be >= 0 bps, got {self.bps}")

    def fill_price(self, side: Side, reference: Decimal) -> Decimal:
        if not self.bps:
            return reference
        if side is Side.BUY:
            return round_to_tick(reference * (1 + self.bps / _BPS), "up")
        return round_to_tick(reference * (1 - self.bps / _BPS), "down")


@dataclass(frozen=True)
class PerShareCommission:
    """``per_share × qty``, at least ``minimum`` per order (when anything is charged at all),
    rounded to cents. Zero for both means commission-free (Alpaca's equity pricing)."""

    per_share: Decimal = ZERO
    minimum: Decimal = ZERO

    def __post_init__(self) -> None:
        for name, value in (("per_share", self.per_share), ("minimum", self.minimum)):
            if not value.is_finite() or value < 0:
                raise ValueError(f"commission {name} must be >= 0, got {value}")

    def commission(self, qty: int, price: Decimal) -> Decimal:
        if not self.per_share and not self.minimum:
            return ZERO
        return round_cents(max(self.per_share * qty, self.minimum))
