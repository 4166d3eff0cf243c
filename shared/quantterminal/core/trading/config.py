"""How the kernel trades, in one place: the settings every environment shares (backtest, local
paper run, the Lambdas), with one set of defaults.

What was tuned in a backtest is what trades live only if both read the same numbers; before this
module the sizing fraction was written in five places and the bar age in three, and the backtest
sent market orders while the live path sent limit orders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from quantterminal.core.models import Side
from quantterminal.core.money import round_to_tick
from quantterminal.core.risk.manager import DEFAULT_POSITION_FRACTION, RiskLimits
from quantterminal.core.trading.orders import OrderType

_BPS = Decimal(10_000)


@dataclass(frozen=True)
class TradingConfig:
    """Sizing, order settings and risk limits of one account.

    - ``position_fraction``: a new position is ``floor(fraction × equity / close)`` shares.
    - ``order_type`` / ``limit_offset_bps``: limit orders priced at the decision close moved
      ``limit_offset_bps`` toward the other side (a positive offset is marketable: it buys a little
      above the close, so it fills unless the price runs away).
    - ``order_cancel_age``: a limit order still working this long after it was placed is canceled
      (on minute bars, 30 s means it gets exactly one bar to fill).
    - ``max_bar_age``: a bar delivered later than this after its close feeds the strategies but
      places no order on its stale price.
    - ``risk``: the risk manager's limits, checked for every order in every environment.
    """

    position_fraction: Decimal = DEFAULT_POSITION_FRACTION
    order_type: OrderType = OrderType.LIMIT
    limit_offset_bps: Decimal = Decimal(5)
    order_cancel_age: timedelta = timedelta(seconds=30)
    max_bar_age: timedelta = timedelta(seconds=90)
    risk: RiskLimits = field(default_factory=RiskLimits)

    def __post_init__(self) -> None:
        if not self.position_fraction.is_finite() or not 0 < self.position_fraction <= 1:
            raise ValueError(f"position fraction must be in (0, 1], got {self.position_fraction}")
        if not self.limit_offset_bps.is_finite():
            raise ValueError("limit offset must be finite")
        if self.order_cancel_age <= timedelta(0):
            raise ValueError(f"order cancel age must be positive, got {self.order_cancel_age}")
        if self.max_bar_age < timedelta(0):
            raise ValueError(f"max bar age must be >= 0, got {self.max_bar_age}")

    def limit_price(self, side: Side, close: Decimal) -> Decimal | None:
        """The limit price of an order decided at ``close`` (``None`` for market orders): buys at
        ``close × (1 + bps/10⁴)`` rounded down to a tick, sells at ``close × (1 − bps/10⁴)``
        rounded up -- the one place a limit price is computed."""
        if self.order_type is not OrderType.LIMIT:
            return None
        offset = self.limit_offset_bps / _BPS
        if side is Side.BUY:
            return round_to_tick(close * (1 + offset), "down")
        return round_to_tick(close * (1 - offset), "up")
