"""How the kernel trades, in one place: the settings every environment shares (backtest, local
paper run, the Lambdas), with one set of defaults.

What was tuned in a backtest is what trades live only if both read the same numbers; before this
module the sizing fraction was written in five places and the bar age in three, and the backtest
sent market orders while the live path sent limit orders.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from quantterminal.core.accounting.orders import OrderType
from quantterminal.core.models import Side
from quantterminal.core.money import round_to_tick
from quantterminal.core.risk.manager import RiskLimits

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
    - ``risk``: the risk manager's limits, checked for every order in every environment.
    """

    type: OrderType = OrderType.LIMIT
    limit_offset_bps: Decimal = Decimal(5)
    cancel_after_seconds: float = 30.0
    position_fraction: Decimal = Decimal("0.10")
    max_bar_age_seconds: float = 90.0
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
