"""Exits a strategy asks the broker to hold for it, declared from its parameters.

As Freqtrade's ``stoploss`` / ``trailing_stop`` or a LEAN algorithm's stop orders, but held at the
broker: a strategy whose edge depends on its exits (a 0.3% stop under a mean-reversion entry) says
so in its class, and every instance of it trades with them in every environment, whatever the
configuration's ``[orders]`` says for other instances. The kernel places them as it places the
configured ones (``TradingConfig.with_exits``): stop-loss and take-profit legs on every
entry from flat, or a trailing stop under every position -- never both, a broker holds one closing
order per share. A strategy that declares none trades with the configuration's.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

Bps = Decimal | float | int | None


@dataclass(frozen=True)
class ExitOrders:
    """A strategy's exits, in basis points from the entry's decision close (legs) or behind the
    best price since the stop was placed (trailing); ``None``: not that one."""

    stop_loss_bps: Bps = None
    take_profit_bps: Bps = None
    trailing_stop_bps: Bps = None
    max_holding_minutes: int | None = None  # closed after this long, whatever the strategy answers ("time")

    def __post_init__(self) -> None:
        for name in ("stop_loss_bps", "take_profit_bps", "trailing_stop_bps"):
            bps = _bps(getattr(self, name))
            if bps is not None and (not bps.is_finite() or not 0 < bps < 10_000):
                raise ValueError(f"exit_orders: {name} must be between 0 and 10,000, got {getattr(self, name)}")
        if self.max_holding_minutes is not None and self.max_holding_minutes <= 0:
            raise ValueError(f"exit_orders: max_holding_minutes must be positive, got {self.max_holding_minutes}")
        if self.trailing_stop_bps is not None and (self.stop_loss_bps, self.take_profit_bps) != (None, None):
            raise ValueError(
                "exit_orders: a trailing stop cannot sit beside stop-loss / take-profit legs"
                " (a broker holds one closing order per share)"
            )

    def bps(self, name: str) -> Decimal | None:
        """The distance ``name`` (a field) exactly, as a Decimal."""
        return _bps(getattr(self, name))


def _bps(value: Bps) -> Decimal | None:
    # through str: a float parameter of 12.5 is exactly 12.5 bps, not its binary neighbour
    return None if value is None else Decimal(str(value))
