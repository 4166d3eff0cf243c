"""The tearsheet's tables beyond the headline: risk figures, the worst drawdowns, yearly returns,
trade statistics and a summary of the fills -- short enough to read at 1280 px and in print, the
full data left in the run's CSVs (``core.reporting.risk_figures`` computes them)."""

from __future__ import annotations

import html
import statistics
from collections.abc import Sequence
from decimal import Decimal

from quantterminal.core.accounting.metrics import Metrics
from quantterminal.core.accounting.trades import RoundTrip
from quantterminal.core.reporting.risk_figures import (
    beta,
    calmar,
    conditional_value_at_risk,
    trade_stats,
    value_at_risk,
    volatility,
    worst_drawdowns,
    yearly_returns,
)
from quantterminal.core.reporting.tearsheet import DailySeries, TradeSlippage

FILLS_SHOWN = 40  # the latest fills listed; the rest are counted, and every one is in fills.csv


def table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    header = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{header}</tr>{body}</table>"


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2%}"


def num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def risk_rows(m: Metrics, series: DailySeries, benchmark: Sequence[float], initial: float) -> list[tuple[str, str]]:
    """Volatility, CAGR, Calmar, VaR/CVaR and (with a benchmark) beta."""
    starts = [initial, *benchmark[:-1]] if benchmark else []
    bench_returns = [b / a - 1.0 for a, b in zip(starts, benchmark, strict=True)]
    rows = [
        ("CAGR", pct(m.cagr)),
        ("volatility (annualised)", "-" if (v := volatility(series.returns)) is None else f"{v:.2%}"),
        ("Calmar", num(calmar(m.cagr, m.max_drawdown))),
        ("daily VaR (95%)", pct(value_at_risk(series.returns))),
        ("daily CVaR (95%)", pct(conditional_value_at_risk(series.returns))),
    ]
    if benchmark:
        rows.append(("beta to buy and hold", num(beta(series.returns, bench_returns))))
    return rows


def drawdowns(series: DailySeries, initial: float) -> str:
    worst = worst_drawdowns(series.days, series.equity, initial)
    if not worst:
        return "<p>none: the equity never closed a session below its peak</p>"
    rows = [
        [
            str(d.peak),
            str(d.trough),
            "not yet" if d.recovered is None else str(d.recovered),
            f"{d.depth:.2%}",
            str(d.sessions),
        ]
        for d in worst
    ]
    return table(["peak", "trough", "recovered", "depth", "sessions"], rows)


def years(series: DailySeries, initial: float) -> str:
    found = yearly_returns(series.days, series.equity, initial)
    return table(["year", "return"], [[str(y), pct(r)] for y, r in sorted(found.items())]) if found else "<p>none</p>"


def trades(trips: Sequence[RoundTrip]) -> str:
    """Closed round trips by instance and by symbol (by exit reason: its own section)."""
    if not trips:
        return "<p>no closed trade</p>"
    parts = []
    for title, key in (("instance", lambda t: t.strategy or "-"), ("symbol", lambda t: t.symbol)):
        rows = [
            [s.group, str(s.trades), f"{s.win_rate:.0%}", _money(s.avg_pnl), _money(s.total_pnl)]
            for s in trade_stats(trips, key)
        ]
        parts.append(table([title, "trades", "won", "average P&L", "total P&L"], rows))
    return "".join(parts)


def fills(found: Sequence[TradeSlippage], where: str) -> str:
    """The fills summarised by instance, then the latest ``FILLS_SHOWN`` (``where``: the full list)."""
    if not found:
        return "<p>no fill</p>"
    by_instance: dict[str, list[TradeSlippage]] = {}
    for f in found:
        by_instance.setdefault(f.strategy or "-", []).append(f)
    summary = []
    for name, mine in sorted(by_instance.items()):
        slips = [f.slippage_bps for f in mine if f.slippage_bps is not None]
        summary.append([name, str(len(mine)), "-" if not slips else f"{statistics.median(slips):+.1f} bps"])
    latest = found[-FILLS_SHOWN:]
    rows = [
        [f"{f.time:%Y-%m-%d %H:%M:%S}", f.strategy, f.symbol, f.side, str(f.qty), str(f.price),
         "-" if f.decision_price is None else str(f.decision_price),
         "-" if f.slippage_bps is None else f"{f.slippage_bps:+.1f} bps"]
        for f in latest
    ]  # fmt: skip
    shown = f"<p class=dim>the latest {len(latest)} of {len(found)} fills; every one is in {html.escape(where)}</p>"
    return (
        table(["instance", "fills", "median slippage"], summary)
        + (shown if len(found) > len(latest) else "")
        + table(["time (UTC)", "strategy", "symbol", "side", "qty", "price", "decided at", "slippage"], rows)
    )


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"
