"""The fill model: how the simulated broker executes a working order against a bar -- the one copy
of the fill rules, used by backtests and paper runs alike.

Rules (every assumption, written down):
- An order is worked only on bars that *start* after it became workable (submit time plus the
  broker's latency): an order decided on bar t's close is worked from bar t+1 of its symbol (the
  next minute, or the next session's first bar after an overnight gap), never on bar t.
- Orders are day orders without extended hours, as the kernel places them at Alpaca: they are
  worked on regular-session bars only. A decision on the session's last minute is placed at the
  close and so is worked first on the next session's opening bar (a market order fills at its open;
  a limit order only if that bar reaches it).
- Market orders fill at the bar's open, moved against the trader by the slippage model.
- Limit orders fill only when the bar reaches the limit: a buy at ``min(open, limit)`` if the low
  is at or below the limit, a sell at ``max(open, limit)`` if the high is at or above it. Slippage
  does not apply to limit fills (the limit protects the price).
- A bar fills at most ``participation`` of its volume (at least one share of a bar that traded),
  so an order larger than that fills partially over several bars; a bar with no volume fills
  nothing. ``participation=None`` fills in full whatever the volume.
- Commission is charged per fill by the commission model.

How long a limit order works is not a fill rule: the kernel cancels it after the configured
order age (``TradingConfig.cancel_after_seconds``), in every environment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal

from quantterminal.core.accounting.orders import OrderType
from quantterminal.core.models import Bar, Side
from quantterminal.core.money import to_decimal
from quantterminal.core.simulation.execution import BpsSlippage, CommissionModel, PerShareCommission, SlippageModel

_UNLIMITED = 2**62  # shares: more than any order


@dataclass(frozen=True, slots=True)
class BarFill:
    """What one bar fills of an order: ``qty`` shares at ``price``, with ``commission``."""

    qty: int
    price: Decimal
    commission: Decimal


@dataclass(frozen=True)
class FillModel:
    """Executes working orders against bars (see the module docs for the rules)."""

    slippage: SlippageModel = field(default_factory=BpsSlippage)
    commission: CommissionModel = field(default_factory=PerShareCommission)
    participation: float | None = 0.10  # BrokerSettings.participation's default (a test holds them equal)

    def __post_init__(self) -> None:
        if self.participation is not None and not 0 < self.participation <= 1:
            raise ValueError(f"participation must be in (0, 1], got {self.participation}")

    def fill(
        self, side: Side, order_type: OrderType, limit_price: Decimal | None, remaining: int, bar: Bar
    ) -> BarFill | None:
        """What ``bar`` fills of an order with ``remaining`` shares to go (``None``: nothing)."""
        if order_type is OrderType.MARKET:
            price = self.slippage.fill_price(side, to_decimal(bar.open))
        elif limit_price is None:
            return None
        elif side is Side.BUY:
            if to_decimal(bar.low) > limit_price:
                return None
            price = min(to_decimal(bar.open), limit_price)
        else:
            if to_decimal(bar.high) < limit_price:
                return None
            price = max(to_decimal(bar.open), limit_price)
        qty = remaining if self.participation is None else min(remaining, self.capacity(bar.volume))
        if qty <= 0:
            return None
        return BarFill(qty, price, self.commission.commission(qty, price))

    def capacity(self, volume: float) -> int:
        """Shares one bar of ``volume`` can fill: ``participation`` of it, at least one if it traded."""
        if self.participation is None:
            return _UNLIMITED
        if volume <= 0:
            return 0
        return max(math.floor(self.participation * volume), 1)
