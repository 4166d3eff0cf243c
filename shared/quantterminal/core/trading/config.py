"""How the kernel trades, in one place: the settings every environment shares (backtest, local
paper run, the Lambdas), with one set of defaults.

What was tuned in a backtest is what trades live only if both read the same numbers; before this
module the sizing fraction was written in five places and the bar age in three, and the backtest
sent market orders while the live path sent limit orders.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal

from quantterminal.core.accounting.orders import OrderType
from quantterminal.core.models import Side
from quantterminal.core.money import round_to_tick
from quantterminal.core.risk.manager import RiskLimits
from quantterminal.core.strategies.exit_orders import ExitOrders

_BPS = Decimal(10_000)


@dataclass(frozen=True)
class TradingConfig:
    """How one account sizes and places orders -- the configuration's ``[orders]`` section, under
    the same names -- and its risk limits (``[risk]``). Each default is declared here and only
    here: the configuration model, the shipped file and the command line's help take theirs from
    this class.

    - ``type``: ``limit`` orders priced at the decision close moved ``limit_offset_bps`` toward the
      other side (a positive offset is marketable: it buys a little above the close, so it fills
      unless the price runs away), or ``market`` orders.
    - ``cancel_after_seconds``: a limit order still working this long after it was placed is
      canceled (on minute bars, 30 s means it gets exactly one bar to fill).
    - ``position_fraction``: a new position is ``floor(fraction × allocation × equity / price)``
      shares (the instance's allocation of the account).
    - ``max_bar_age_seconds``: a bar delivered later than this after its close feeds the strategies
      but places no order on its stale price.
    - ``stop_loss_bps`` / ``take_profit_bps``: exit legs attached to every entry from flat, this
      far from the decision close (a stop-loss below a long's entry, a take-profit above it): a
      bracket with both, one-triggers-other with one, placed at the broker with the entry and
      working there, good till canceled, whether or not our processes run. The first leg to fill
      cancels the other; the instance then stays out until its strategy's answer changes. A
      position no bracket protects (a stop entry's, a reversal's) gets both as one-cancels-other
      once it has filled, from its average entry price.
    - ``trailing_stop_bps``: a trailing stop kept under every position an entry opened, this far
      behind the best price since it was placed (good till canceled, held at the broker). It is
      placed on the first bar the position is complete with nothing else working -- the bar after
      the entry filled -- because no broker takes it as a leg (Alpaca holds trailing stops only as
      single orders). It cannot sit beside exit legs: a broker holds one closing order per share
      (Alpaca refuses a second sell of shares a working order already holds). When it fills, the
      instance stays out until its answer changes, as after a leg.
    - ``max_holding_minutes``: a position held this long (from the fill that opened it to a bar's
      close) is closed, whatever the strategy answers -- its working legs or trailing stop canceled
      first -- and the instance stays out until its answer changes; the trade's exit reason is
      "time".
    - ``risk``: the risk manager's limits, checked for every order in every environment.
    """

    type: OrderType = OrderType.LIMIT
    limit_offset_bps: Decimal = Decimal(5)
    cancel_after_seconds: float = 30.0
    position_fraction: Decimal = Decimal("0.10")
    max_bar_age_seconds: float = 90.0
    stop_loss_bps: Decimal | None = None
    take_profit_bps: Decimal | None = None
    trailing_stop_bps: Decimal | None = None
    max_holding_minutes: int | None = None
    risk: RiskLimits = field(default_factory=RiskLimits)

    def __post_init__(self) -> None:
        if not self.position_fraction.is_finite() or not 0 < self.position_fraction <= 1:
            raise ValueError(f"position fraction must be in (0, 1], got {self.position_fraction}")
        if not self.limit_offset_bps.is_finite():
            raise ValueError("limit offset must be finite")
        if not math.isfinite(self.cancel_after_seconds) or self.cancel_after_seconds <= 0:
            raise ValueError(f"cancel_after_seconds must be positive and finite, got {self.cancel_after_seconds}")
        if not math.isfinite(self.max_bar_age_seconds) or self.max_bar_age_seconds < 0:
            raise ValueError(f"max_bar_age_seconds must be >= 0 and finite, got {self.max_bar_age_seconds}")
        for name in ("stop_loss_bps", "take_profit_bps", "trailing_stop_bps"):
            bps = getattr(self, name)
            if bps is not None and (not bps.is_finite() or not 0 < bps < _BPS):
                raise ValueError(f"{name} must be between 0 and 10,000, got {bps}")
        if (
            self.take_profit_bps is not None
            and self.type is OrderType.LIMIT
            and self.take_profit_bps <= self.limit_offset_bps
        ):
            raise ValueError(
                f"take_profit_bps ({self.take_profit_bps}) must exceed limit_offset_bps ({self.limit_offset_bps}):"
                " the take-profit would sit inside the entry's own limit price"
            )

        if self.max_holding_minutes is not None and not 0 < self.max_holding_minutes <= 525_600:
            raise ValueError(
                f"max_holding_minutes must be between 1 and 525,600 (a year), got {self.max_holding_minutes}"
            )
        if self.trailing_stop_bps is not None and self.exit_legs:
            raise ValueError(
                "trailing_stop_bps cannot be combined with stop_loss_bps / take_profit_bps: a broker holds one"
                " closing order per share (a trailing stop is never a leg at Alpaca)"
            )

    def with_exits(self, exits: ExitOrders) -> TradingConfig:
        """These settings with a strategy's own exits in place of the configured ones (checked as
        the configuration's are)."""
        return replace(
            self,
            stop_loss_bps=exits.bps("stop_loss_bps"),
            take_profit_bps=exits.bps("take_profit_bps"),
            trailing_stop_bps=exits.bps("trailing_stop_bps"),
            max_holding_minutes=exits.max_holding_minutes,
        )

    @property
    def exit_legs(self) -> bool:
        """Whether entries carry exit legs (a stop-loss, a take-profit or both)."""
        return self.stop_loss_bps is not None or self.take_profit_bps is not None

    def exits(self, side: Side, close: Decimal) -> tuple[Decimal | None, Decimal | None]:
        """The (take-profit, stop-loss) prices of an entry on ``side`` decided at ``close``, each
        rounded to a tick away from the close (never tighter than configured)."""
        up, down = ("up", "down") if side is Side.BUY else ("down", "up")
        sign = 1 if side is Side.BUY else -1
        take = stop = None
        if self.take_profit_bps is not None:
            take = round_to_tick(close * (1 + sign * self.take_profit_bps / _BPS), up)
        if self.stop_loss_bps is not None:
            stop = round_to_tick(close * (1 - sign * self.stop_loss_bps / _BPS), down)
        return take, stop

    @property
    def max_holding(self) -> timedelta | None:
        """``max_holding_minutes`` as a duration (``None``: positions are held as long as wanted)."""
        return None if self.max_holding_minutes is None else timedelta(minutes=self.max_holding_minutes)

    @property
    def cancel_after(self) -> timedelta:
        """``cancel_after_seconds`` as a duration."""
        return timedelta(seconds=self.cancel_after_seconds)

    @property
    def max_bar_age(self) -> timedelta:
        """``max_bar_age_seconds`` as a duration."""
        return timedelta(seconds=self.max_bar_age_seconds)

    def limit_price(self, side: Side, close: Decimal) -> Decimal | None:
        """The limit price of an order decided at ``close`` (``None`` for market orders): buys at
        ``close × (1 + bps/10⁴)`` rounded down to a tick, sells at ``close × (1 − bps/10⁴)``
        rounded up -- the one place a limit price is computed."""
        if self.type is not OrderType.LIMIT:
            return None
        offset = self.limit_offset_bps / _BPS
        if side is Side.BUY:
            return round_to_tick(close * (1 + offset), "down")
        return round_to_tick(close * (1 - offset), "up")
