"""What a tearsheet shows, computed from a run's equity curve, fills and orders (pure).

Daily figures come from the same ``daily_equity`` the backtest's metrics use, so the tearsheet's
Sharpe, drawdown and return agree with ``qterm backtest``'s to the last digit.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from quantterminal.core.accounting.metrics import TRADING_DAYS_PER_YEAR, daily_equity, daily_returns


@dataclass(frozen=True)
class DailySeries:
    """A run's equity at each session's close, its daily returns and its drawdown from the peak."""

    days: list[date]
    equity: list[float]
    returns: list[float]
    drawdown: list[float]  # fraction below the running peak, <= 0


def daily_series(curve: Sequence[tuple[datetime, float]], initial: float) -> DailySeries:
    daily = daily_equity(curve)
    equity = [e for _, e in daily]
    peak, drawdown = initial, []
    for e in equity:
        peak = max(peak, e)
        drawdown.append(e / peak - 1.0 if peak > 0 else 0.0)
    return DailySeries([d for d, _ in daily], equity, daily_returns(initial, daily), drawdown)


def monthly_returns(days: Sequence[date], equity: Sequence[float], initial: float) -> dict[tuple[int, int], float]:
    """(year, month) -> the month's compound return."""
    out: dict[tuple[int, int], float] = {}
    start = initial
    last_key: tuple[int, int] | None = None
    last = initial
    for day, e in zip(days, equity, strict=True):
        key = (day.year, day.month)
        if last_key is not None and key != last_key:
            out[last_key] = last / start - 1.0
            start = last
        last_key, last = key, e
    if last_key is not None:
        out[last_key] = last / start - 1.0
    return out


def rolling_sharpe(returns: Sequence[float], window: int) -> list[float | None]:
    """The annualised Sharpe of each trailing ``window`` of daily returns (None until full)."""
    out: list[float | None] = []
    for i in range(len(returns)):
        chunk = returns[max(0, i - window + 1) : i + 1]
        if len(chunk) < window:
            out.append(None)
            continue
        stdev = statistics.stdev(chunk)
        out.append(None if stdev == 0 else statistics.fmean(chunk) / stdev * math.sqrt(TRADING_DAYS_PER_YEAR))
    return out


def buy_and_hold(
    closes: Mapping[str, Sequence[tuple[date, float]]], days: Sequence[date], initial: float
) -> list[float]:
    """Equal weights of ``closes``' symbols bought at the first session's close and held: the
    benchmark's value on each of ``days`` (a symbol's last close carries over a missing day)."""
    curves = []
    for series in closes.values():
        by_day = dict(series)
        if not by_day:
            continue
        first = next((by_day[d] for d in days if d in by_day), None)
        if first is None or first <= 0:
            continue
        value, curve = first, []
        for d in days:
            value = by_day.get(d, value)
            curve.append(value / first)
        curves.append(curve)
    if not curves:
        return []
    return [initial * sum(c[i] for c in curves) / len(curves) for i in range(len(days))]


@dataclass(frozen=True)
class TradeSlippage:
    """A fill beside the price its order was decided at."""

    time: datetime
    symbol: str
    side: str
    qty: int
    price: Decimal
    decision_price: Decimal | None
    strategy: str

    @property
    def slippage_bps(self) -> float | None:
        """Against the trader: positive when the fill was worse than the decision price."""
        if self.decision_price is None or self.decision_price == 0:
            return None
        sign = 1 if self.side == "buy" else -1
        return float((self.price - self.decision_price) / self.decision_price * sign * 10_000)


def refusals_by_rule(outcomes: Sequence[tuple[str, str]]) -> dict[str, int]:
    """(outcome, rule) of every order decision -> how many each risk rule refused."""
    return dict(sorted(Counter(rule or "unknown" for outcome, rule in outcomes if outcome == "refused").items()))
