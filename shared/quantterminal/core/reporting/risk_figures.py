"""The figures of a QuantStats or pyfolio report that the summary does not carry, computed the
way QuantStats defines them (pure): volatility, Calmar, value at risk and its expected shortfall,
beta against a benchmark, the worst drawdowns with their durations, yearly returns, and trade
statistics by instance, symbol and exit reason.

Conventions (daily = session returns, as ``core.accounting.metrics``):
- Volatility = stdev(daily r, ddof=1) × √252.
- Calmar = CAGR / max drawdown (the summary's: drawdown on every bar).
- VaR (95%) = the 5% quantile of a normal distribution with the daily returns' mean and stdev
  (QuantStats' ``value_at_risk``); CVaR = that normal's expected value below it (QuantStats'
  ``cvar``, its parametric default since 0.0.83).
- Beta = cov(r, benchmark r) / var(benchmark r) over the same sessions.
- A drawdown runs from a session-close peak to the session that regains it (or the run's end);
  its depth is the lowest close's fall from that peak, its length the sessions it lasted.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from quantterminal.core.accounting.metrics import TRADING_DAYS_PER_YEAR
from quantterminal.core.accounting.trades import RoundTrip
from quantterminal.core.money import ZERO


def volatility(returns: Sequence[float]) -> float | None:
    """Annualised volatility of daily returns, or None with fewer than two."""
    if len(returns) < 2:
        return None
    return statistics.stdev(returns) * math.sqrt(TRADING_DAYS_PER_YEAR)


def calmar(cagr: float | None, max_drawdown: float) -> float | None:
    """CAGR over the max drawdown, or None when either is missing or zero."""
    return None if cagr is None or max_drawdown == 0 else cagr / max_drawdown


def value_at_risk(returns: Sequence[float], confidence: float = 0.95) -> float | None:
    """The daily return a normal fit to ``returns`` falls below with 1 - ``confidence`` odds."""
    if len(returns) < 2:
        return None
    stdev = statistics.stdev(returns)
    if stdev == 0:
        return statistics.fmean(returns)
    return statistics.NormalDist(statistics.fmean(returns), stdev).inv_cdf(1 - confidence)


def conditional_value_at_risk(returns: Sequence[float], confidence: float = 0.95) -> float | None:
    """The expected daily return below ``value_at_risk`` under the same normal fit (the
    estimator that belongs with it: a few observations would make the tail's mean noise)."""
    if len(returns) < 2:
        return None
    mean, stdev = statistics.fmean(returns), statistics.stdev(returns)
    if stdev == 0:
        return mean
    alpha = 1 - confidence
    unit = statistics.NormalDist()
    return mean - stdev * unit.pdf(unit.inv_cdf(alpha)) / alpha


def beta(returns: Sequence[float], benchmark: Sequence[float]) -> float | None:
    """The returns' beta to ``benchmark`` (same sessions), or None when it is undefined."""
    if len(returns) != len(benchmark) or len(returns) < 2:
        return None
    spread = statistics.variance(benchmark)
    return None if spread == 0 else statistics.covariance(returns, benchmark) / spread


@dataclass(frozen=True)
class Drawdown:
    """One fall from a peak and the way back (``recovered``: the session that regained the peak)."""

    peak: date
    trough: date
    recovered: date | None
    depth: float  # a fraction of the peak, > 0
    sessions: int  # from the peak to the recovery (or the run's last session)


def worst_drawdowns(days: Sequence[date], equity: Sequence[float], initial: float, count: int = 5) -> list[Drawdown]:
    """The ``count`` deepest drawdowns of the session closes, deepest first."""
    found: list[Drawdown] = []
    peak_value, peak_at = initial, 0
    trough_value, trough_at = initial, 0
    for i, value in enumerate(equity):
        if value >= peak_value:
            if trough_value < peak_value:
                found.append(_drawdown(days, peak_at, trough_at, i, peak_value, trough_value))
            peak_value, peak_at, trough_value, trough_at = value, i, value, i
        elif value < trough_value:
            trough_value, trough_at = value, i
    if trough_value < peak_value:
        found.append(_drawdown(days, peak_at, trough_at, None, peak_value, trough_value))
    return sorted(found, key=lambda d: -d.depth)[:count]


def _drawdown(
    days: Sequence[date], peak: int, trough: int, recovered: int | None, peak_value: float, trough_value: float
) -> Drawdown:
    end = len(days) - 1 if recovered is None else recovered
    return Drawdown(
        days[peak],
        days[trough],
        None if recovered is None else days[recovered],
        1.0 - trough_value / peak_value,
        end - peak,
    )


def yearly_returns(days: Sequence[date], equity: Sequence[float], initial: float) -> dict[int, float]:
    """Each calendar year's compound return (the first from ``initial``)."""
    out: dict[int, float] = {}
    start, year, last = initial, None, initial
    for day, value in zip(days, equity, strict=True):
        if year is not None and day.year != year:
            out[year] = last / start - 1.0
            start = last
        year, last = day.year, value
    if year is not None:
        out[year] = last / start - 1.0
    return out


@dataclass(frozen=True)
class TradeStats:
    """Closed round trips of one group: how many, how often they won, what they made."""

    group: str
    trades: int
    win_rate: float
    avg_pnl: Decimal
    total_pnl: Decimal


def trade_stats(trips: Iterable[RoundTrip], key: Callable[[RoundTrip], str]) -> list[TradeStats]:
    """The round trips grouped by ``key`` (instance, symbol, exit reason), largest group first."""
    groups: dict[str, list[Decimal]] = {}
    for t in trips:
        groups.setdefault(key(t), []).append(t.pnl)
    stats = [
        TradeStats(
            name, len(pnls), sum(1 for p in pnls if p > 0) / len(pnls), sum(pnls, ZERO) / len(pnls), sum(pnls, ZERO)
        )
        for name, pnls in groups.items()
    ]
    return sorted(stats, key=lambda s: (-s.trades, s.group))
