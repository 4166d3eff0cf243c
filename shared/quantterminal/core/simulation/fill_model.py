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
- A stop triggers when the bar trades through it: a sell stop when the low reaches it, a buy stop
  when the high does. It then fills as a market order from the trigger price: the stop itself, or
  the open when the bar opened through it (a gap fills at the open, never at a price the market
  skipped). Slippage applies (it is a market order once triggered).
- A stop-limit triggers as a stop, then works as a limit from the trigger price: a sell fills at
  the trigger price if that is at or above its limit, else at the limit if the bar's high reaches
  it; otherwise it rests, triggered, as a limit order on later bars.
- A trailing stop's stop follows the best price since it began working: ``trail_bps`` below the
  highest high for a sell (above the lowest low for a buy), rounded to the cent. Each bar is first
  checked against the stop as it stood at the bar's open, then the best price moves with the
  bar's extreme: no fill on a level set by the same bar (the order of a bar's high and low is
  unknown), which is the cautious reading.
- Exit legs (a bracket's take-profit limit and stop-loss, ``Order.take_profit`` /
  ``Order.stop_loss``) work from the bar after their entry fills, for the shares it filled. A bar
  that reaches both legs fills the stop-loss: the order of a bar's high and low is unknown, so the
  worse outcome is taken (as backtrader and LEAN do). A leg's fill cancels the other once the
  position it protects is closed.
- Time in force: ``day`` orders expire at the close of the session they first work in; ``gtc``
  orders work until filled or canceled; ``ioc`` orders work on their first bar only.

How long a limit order works is not a fill rule: the kernel cancels it after the configured
order age (``TradingConfig.cancel_after_seconds``), in every environment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from quantterminal.core.accounting.orders import OrderType
from quantterminal.core.models import Bar, Side
from quantterminal.core.money import to_decimal
from quantterminal.core.simulation.execution import BpsSlippage, CommissionModel, PerShareCommission, SlippageModel

_UNLIMITED = 2**62  # shares: more than any order
_BPS = Decimal(10_000)
_CENT = Decimal("0.01")


def trigger_price(side: Side, stop: Decimal, bar: Bar) -> Decimal | None:
    """Where a ``side`` stop at ``stop`` triggers on ``bar``: the open if the bar opened through it,
    else the stop if the bar reached it (``None``: it did not)."""
    opened = to_decimal(bar.open)
    if side is Side.BUY:
        if opened >= stop:
            return opened
        return stop if to_decimal(bar.high) >= stop else None
    if opened <= stop:
        return opened
    return stop if to_decimal(bar.low) <= stop else None


def trailing_stop(side: Side, best: Decimal, trail_bps: Decimal) -> Decimal:
    """A trailing stop's level: ``trail_bps`` behind ``best`` (the highest price since it began
    working, for a sell; the lowest, for a buy), rounded half up to the cent."""
    offset = -trail_bps if side is Side.SELL else trail_bps
    return (best * (1 + offset / _BPS)).quantize(_CENT, rounding=ROUND_HALF_UP)


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
        self,
        side: Side,
        order_type: OrderType,
        limit_price: Decimal | None,
        remaining: int,
        bar: Bar,
        stop_price: Decimal | None = None,
    ) -> BarFill | None:
        """What ``bar`` fills of an order with ``remaining`` shares to go (``None``: nothing).
        ``stop_price``: a stop's (or trailing stop's current) trigger; a stop-limit not yet
        triggered is given its stop, one triggered on an earlier bar is worked as a limit."""
        start = to_decimal(bar.open)
        if stop_price is not None:
            triggered = trigger_price(side, stop_price, bar)
            if triggered is None:
                return None
            if order_type is not OrderType.STOP_LIMIT:
                return self._sized(self.slippage.fill_price(side, triggered), remaining, bar)
            start = triggered
        if order_type is OrderType.MARKET:
            price = self.slippage.fill_price(side, start)
        elif limit_price is None:
            return None
        elif side is Side.BUY:
            if start <= limit_price:
                price = start
            elif to_decimal(bar.low) <= limit_price:
                price = limit_price
            else:
                return None
        elif start >= limit_price:
            price = start
        elif to_decimal(bar.high) >= limit_price:
            price = limit_price
        else:
            return None
        return self._sized(price, remaining, bar)

    def _sized(self, price: Decimal, remaining: int, bar: Bar) -> BarFill | None:
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
