"""Performance metrics of an equity curve and its round-trip trades.

Conventions (all written down because results are compared across tools):
- Daily returns use the last equity of each New York session date; the first day's return is
  against the starting cash.
- Sharpe = mean(daily r) / stdev(daily r, ddof=1) × √252, risk-free rate 0.
- Sortino = mean(daily r) / downside deviation × √252, with downside deviation
  √(Σ min(r, 0)² / n) over all n days (target 0).
- CAGR = (final / initial)^(252 / trading days) − 1.
- Max drawdown = the largest fall from a running peak of the per-bar equity curve, as a fraction.
- Win rate = round trips with net P&L > 0 / all closed round trips.
- Exposure = the fraction of equity-curve points at which any position was open.
Ratios that are undefined (no days, zero variance, no trades) are ``None``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from operator import itemgetter

from quantterminal.core.accounting.equity_curve import EquityCurve
from quantterminal.core.accounting.trades import RoundTrip
from quantterminal.core.market_data.sessions import day_spans
from quantterminal.core.money import ZERO

TRADING_DAYS_PER_YEAR = 252


@dataclass(frozen=True, slots=True)
class Metrics:
    """Summary statistics of one backtest or live run."""

    initial_equity: Decimal
    final_equity: Decimal
    total_return: float
    cagr: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown: float
    win_rate: float | None
    num_trades: int
    avg_trade: Decimal | None
    exposure: float
    trading_days: int


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of already sorted values, nearest rank."""
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def daily_equity(curve: Sequence[tuple[datetime, float]]) -> list[tuple[date, float]]:
    """The last equity of each New York session date in a time-ordered curve."""
    return [(day, curve[end - 1][1]) for day, _, end in day_spans(curve, itemgetter(0))]


def daily_returns(initial: float, daily: Sequence[tuple[date, float]]) -> list[float]:
    """Simple returns day over day, the first against ``initial``."""
    returns = []
    previous = initial
    for _, equity in daily:
        returns.append(equity / previous - 1.0)
        previous = equity
    return returns


def sharpe_ratio(returns: Sequence[float]) -> float | None:
    """Annualised Sharpe of daily returns (risk-free 0), or None when undefined."""
    if len(returns) < 2:
        return None
    stdev = statistics.stdev(returns)
    if stdev == 0.0:
        return None
    return statistics.fmean(returns) / stdev * math.sqrt(TRADING_DAYS_PER_YEAR)


def sortino_ratio(returns: Sequence[float]) -> float | None:
    """Annualised Sortino of daily returns (target 0), or None when there is no downside."""
    if len(returns) < 2:
        return None
    downside = math.sqrt(math.fsum(min(r, 0.0) ** 2 for r in returns) / len(returns))
    if downside == 0.0:
        return None
    return statistics.fmean(returns) / downside * math.sqrt(TRADING_DAYS_PER_YEAR)


def max_drawdown(equities: Sequence[float], initial: float) -> float:
    """Largest peak-to-trough fall as a fraction of the peak (0.0 when equity never falls)."""
    peak = initial
    worst = 0.0
    for equity in equities:
        if equity > peak:
            peak = equity
        elif peak > 0:
            drawdown = 1.0 - equity / peak
            worst = max(worst, drawdown)
    return worst


def compute_metrics(
    initial: Decimal,
    final: Decimal,
    curve: Sequence[tuple[datetime, float]],
    trades: Sequence[RoundTrip],
    exposed_points: int,
) -> Metrics:
    """All metrics of a run from its starting and final equity, curve and closed trades."""
    initial_f = float(initial)
    daily = daily_equity(curve)
    returns = daily_returns(initial_f, daily)
    days = len(returns)
    ratio = float(final / initial) if initial else 0.0
    cagr = ratio ** (TRADING_DAYS_PER_YEAR / days) - 1.0 if days and ratio > 0 else None
    pnls = [t.pnl for t in trades]
    return Metrics(
        initial_equity=initial,
        final_equity=final,
        total_return=ratio - 1.0,
        cagr=cagr,
        sharpe=sharpe_ratio(returns),
        sortino=sortino_ratio(returns),
        max_drawdown=max_drawdown(
            curve.equities if isinstance(curve, EquityCurve) else [e for _, e in curve], initial_f
        ),
        win_rate=sum(1 for p in pnls if p > 0) / len(pnls) if pnls else None,
        num_trades=len(pnls),
        avg_trade=sum(pnls, ZERO) / len(pnls) if pnls else None,
        exposure=exposed_points / len(curve) if curve else 0.0,
        trading_days=days,
    )
