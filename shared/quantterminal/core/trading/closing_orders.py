"""Orders that close a strategy's position, made by the kernel rather than answered by the
strategy: the trailing stop kept under a position when one is configured, the one-cancels-other
take-profit and stop-loss kept under a position no bracketed entry protects, and the market order
that leaves a position (before a hole in a backtest's data, or when the stop-loss it should have
had is already crossed). All go through risk, the record and the broker like every other order
(``TradingEngine._place``)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from quantterminal.core.accounting.order_ids import client_order_id
from quantterminal.core.accounting.orders import Order, OrderType, TimeInForce
from quantterminal.core.models import Bar, Side
from quantterminal.core.money import to_decimal

TRAIL = "trail"  # the intent in a trailing stop's client order id
PROTECT = "protect"  # the intent in a one-cancels-other exit's client order id


def closing_order(
    strategy: str, account: str, bar: Bar, position: int, now: datetime, intent: str, trail_bps: Decimal | None = None
) -> Order:
    """The order closing ``position`` (signed shares) decided on ``bar``: at market, or -- with
    ``trail_bps`` -- a good-till-canceled trailing stop that far behind the best price."""
    trailing = trail_bps is not None
    return Order(
        client_order_id(strategy, bar.symbol, bar.timestamp, intent),
        strategy,
        bar.symbol,
        Side.SELL if position > 0 else Side.BUY,
        abs(position),
        OrderType.TRAILING_STOP if trailing else OrderType.MARKET,
        bar.timestamp,
        to_decimal(bar.close),
        account=account,
        created_at=now,
        trail_bps=trail_bps,
        time_in_force=TimeInForce.GTC if trailing else TimeInForce.DAY,
    )


def oco_exit(
    strategy: str, account: str, bar: Bar, position: int, now: datetime, take_profit: Decimal, stop_loss: Decimal
) -> Order:
    """The one-cancels-other exit of ``position`` (signed shares) decided on ``bar``: a
    good-till-canceled take-profit limit at ``take_profit`` whose leg is a stop at ``stop_loss``."""
    return Order(
        client_order_id(strategy, bar.symbol, bar.timestamp, PROTECT),
        strategy,
        bar.symbol,
        Side.SELL if position > 0 else Side.BUY,
        abs(position),
        OrderType.LIMIT,
        bar.timestamp,
        to_decimal(bar.close),
        take_profit,
        account=account,
        created_at=now,
        time_in_force=TimeInForce.GTC,
        stop_loss=stop_loss,
        oco=True,
    )
