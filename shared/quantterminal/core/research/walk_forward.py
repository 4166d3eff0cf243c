"""Walk-forward validation: which sessions each window searches on and which it is judged on, what
a run scores, and how in-sample and out-of-sample compare.

A window's parameters are chosen on its in-sample sessions only and then run, unchanged, on the
out-of-sample sessions that follow. Rolling windows slide by the out-of-sample length; anchored
ones keep the first session and grow. The out-of-sample runs are the honest figures: they are what
the report leads with, stitched one after another, and the gap between them and the in-sample
scores (the degradation) is how much of the search was fitting noise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from operator import attrgetter
from typing import Any

from quantterminal.core.accounting.metrics import Metrics
from quantterminal.core.accounting.trades import RoundTrip
from quantterminal.core.market_data.bar_series import bars_between
from quantterminal.core.market_data.sessions import day_bounds, day_spans
from quantterminal.core.models import Bar

OBJECTIVES = ("sharpe", "sortino", "calmar", "profit_factor", "total_return")


@dataclass(frozen=True)
class Window:
    """One walk-forward step: search on ``in_sample``, judge on ``out_of_sample`` (session dates)."""

    index: int
    in_sample: tuple[date, ...]
    out_of_sample: tuple[date, ...]

    def label(self) -> str:
        return (
            f"w{self.index}: IS {self.in_sample[0]}..{self.in_sample[-1]} "
            f"OOS {self.out_of_sample[0]}..{self.out_of_sample[-1]}"
        )


def sessions_of(bars_by_symbol: Mapping[str, Sequence[Bar]]) -> list[date]:
    """Every session date with a bar, in order (found a day at a time, not a bar at a time)."""
    stamp = attrgetter("timestamp")
    return sorted({day for bars in bars_by_symbol.values() for day, _, _ in day_spans(bars, stamp)})


def windows(
    sessions: Sequence[date], in_sample: int, out_of_sample: int, anchored: bool = False, limit: int | None = None
) -> list[Window]:
    """The windows that fit in ``sessions`` (the latest ``limit`` of them); ``ValueError`` if none."""
    found: list[Window] = []
    start = 0
    while start + in_sample + out_of_sample <= len(sessions):
        first = 0 if anchored else start
        found.append(
            Window(
                len(found),
                tuple(sessions[first : start + in_sample]),
                tuple(sessions[start + in_sample : start + in_sample + out_of_sample]),
            )
        )
        start += out_of_sample
    if not found:
        raise ValueError(
            f"{len(sessions)} sessions of data cannot hold one window of {in_sample} in-sample "
            f"+ {out_of_sample} out-of-sample sessions"
        )
    return found if limit is None else [Window(i, w.in_sample, w.out_of_sample) for i, w in enumerate(found[-limit:])]


def within(bars_by_symbol: Mapping[str, Sequence[Bar]], days: Sequence[date]) -> dict[str, Sequence[Bar]]:
    """The bars of ``days`` (a contiguous run of sessions), by symbol: those from New York
    midnight of the first to New York midnight after the last, found by bisection."""
    start, end = day_bounds(days[0])[0], day_bounds(days[-1])[1]
    out = {s: bars_between(bars, start, end) for s, bars in bars_by_symbol.items()}
    return {s: bars for s, bars in out.items() if bars}


def profit_factor(trades: Sequence[RoundTrip]) -> float | None:
    """Gross profit over gross loss of the round trips (None without a loss)."""
    wins = sum((t.pnl for t in trades if t.pnl > 0), Decimal(0))
    losses = -sum((t.pnl for t in trades if t.pnl < 0), Decimal(0))
    return None if losses == 0 else float(wins / losses)


def score(objective: str, metrics: Metrics, trades: Sequence[RoundTrip]) -> float | None:
    """The value of ``objective`` for one run; None when it is undefined (no variance, no loss)."""
    if objective == "sharpe":
        return metrics.sharpe
    if objective == "sortino":
        return metrics.sortino
    if objective == "calmar":
        growth = metrics.cagr if metrics.cagr is not None else metrics.total_return
        return None if metrics.max_drawdown == 0 else growth / metrics.max_drawdown
    if objective == "profit_factor":
        return profit_factor(trades)
    if objective == "total_return":
        return metrics.total_return
    raise ValueError(f"unknown objective {objective!r} (one of {', '.join(OBJECTIVES)})")


@dataclass(frozen=True)
class WindowResult:
    """A window's chosen parameters, their in-sample score and what they did out of sample."""

    window: Window
    params: Mapping[str, Any]
    in_sample: float | None
    out_of_sample: float | None
    oos_return: float
    oos_trades: int  # round trips closed out of sample
    trials: int
    oos_fills: int = 0  # fills out of sample: none, and the window says nothing of its parameters

    @property
    def idle(self) -> bool:
        """Whether the parameters never acted out of sample (no fill): its return is no evidence."""
        return self.oos_fills == 0

    @property
    def degradation(self) -> float | None:
        """How much of the in-sample score did not carry over (1 - OOS/IS; None if undefined)."""
        if self.in_sample is None or self.out_of_sample is None or self.in_sample <= 0:
            return None  # nothing to lose: the search found no positive score
        return 1.0 - self.out_of_sample / self.in_sample


def stitch(returns: Sequence[float]) -> float:
    """The compound return of consecutive out-of-sample runs."""
    total = 1.0
    for r in returns:
        total *= 1.0 + r
    return total - 1.0
