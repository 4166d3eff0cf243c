"""The tearsheet: one self-contained HTML file (inline CSS and SVG charts, nothing fetched) for a
backtest's output folder or a paper/live run in a ledger.

It shows the equity with its drawdown underneath beside a buy-and-hold benchmark, the headline
metrics, monthly returns, rolling Sharpe, the distribution of daily returns, every fill with its
slippage against the decision price, risk refusals by rule, and the configuration and data
manifest that produced the run. Time axes are dates at session closes with concise labels (each
date once), not minute stamps across overnight gaps.
"""

from __future__ import annotations

import csv
import html
import io
import json
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from quantterminal.adapters.reports import tearsheet_sections as sections
from quantterminal.core.accounting.metrics import compute_metrics
from quantterminal.core.accounting.trades import EXIT_REASONS, RoundTrip
from quantterminal.core.models import Direction, Fill
from quantterminal.core.ports import TradeHistory
from quantterminal.core.reporting.post_trade import round_trips
from quantterminal.core.reporting.tearsheet import (
    DailySeries,
    TradeSlippage,
    buy_and_hold,
    daily_series,
    monthly_returns,
    refusals_by_rule,
    rolling_sharpe,
)

ROLLING_DAYS = 20


@dataclass
class RunData:
    """What a tearsheet is made of, from either source."""

    title: str
    source: str
    curve: list[tuple[datetime, float]]
    initial: float
    fills: list[TradeSlippage]
    refusals: dict[str, int]
    configuration: Mapping[str, Any] | None = None
    manifest: Mapping[str, Any] | None = None
    data_files: list[Path] = field(default_factory=list)
    exits: dict[str, int] = field(default_factory=dict)  # closed trades by what closed them
    trips: list[RoundTrip] = field(default_factory=list)  # the closed round trips, each with its instance

    @property
    def symbols(self) -> list[str]:
        return sorted({f.symbol for f in self.fills})


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def run_from_folder(folder: Path) -> RunData:
    """A ``qterm backtest --out`` folder (equity.csv, fills.csv, orders.csv, manifest.json)."""
    if not (folder / "equity.csv").is_file():
        raise ValueError(f"{folder}: no equity.csv -- not the output folder of qterm backtest --out")
    with (folder / "equity.csv").open(encoding="utf-8") as handle:
        curve = [(_time(r["timestamp"]), float(r["equity"])) for r in csv.DictReader(handle)]
    if not curve:
        raise ValueError(f"{folder}/equity.csv holds no equity")
    decided: dict[str, tuple[Decimal | None, str]] = {}
    outcomes: list[tuple[str, str]] = []
    if (folder / "orders.csv").is_file():
        with (folder / "orders.csv").open(encoding="utf-8") as handle:
            for r in csv.DictReader(handle):
                decided[r["client_order_id"]] = (
                    Decimal(r["decision_price"]) if r["decision_price"] else None,
                    r["strategy"],
                )
                outcomes.append((r["outcome"], r["rule"]))
    fills = []
    if (folder / "fills.csv").is_file():
        with (folder / "fills.csv").open(encoding="utf-8") as handle:
            for r in csv.DictReader(handle):
                price, strategy = decided.get(r["order_id"], (None, ""))
                fills.append(
                    TradeSlippage(
                        _time(r["timestamp"]),
                        r["symbol"],
                        r["side"],
                        int(r["qty"]),
                        Decimal(r["price"]),
                        price,
                        strategy,
                    )
                )
    manifest = json.loads((folder / "manifest.json").read_text()) if (folder / "manifest.json").is_file() else None
    files = [Path(d["path"]) for d in (manifest or {}).get("data", []) if isinstance(d, dict) and "path" in d]
    trips: list[RoundTrip] = []
    if (folder / "trades.csv").is_file():
        with (folder / "trades.csv").open(encoding="utf-8") as handle:
            trips = [_trip(r) for r in csv.DictReader(handle)]
    exits = Counter(t.exit_reason for t in trips)
    return RunData(
        f"backtest {folder.name}",
        str(folder),
        curve,
        curve[0][1],
        fills,
        refusals_by_rule(outcomes),
        None if manifest is None else manifest.get("configuration"),
        manifest,
        files,
        dict(exits),
        trips,
    )


def _trip(row: Mapping[str, str]) -> RoundTrip:
    """A row of trades.csv (files written before it had a strategy or an exit reason too)."""
    return RoundTrip(
        row["symbol"],
        Direction(row["side"]),
        int(row["qty"]),
        _time(row["entry_time"]),
        _time(row["exit_time"]),
        Decimal(row["entry_price"]),
        Decimal(row["exit_price"]),
        Decimal(row["gross_pnl"]),
        Decimal(row["commission"]),
        row.get("exit_reason") or "signal",
        row.get("strategy") or "",
    )


def run_from_ledger(ledger: TradeHistory, account: str, start: datetime, end: datetime) -> RunData:
    """A paper or live run: the account's equity snapshots, fills and orders in ``[start, end)``."""
    snapshots = ledger.equity_curve(account, start, end)
    if not snapshots:
        raise ValueError(f"no equity recorded for account {account!r} between {start:%Y-%m-%d} and {end:%Y-%m-%d}")
    curve = [(s.timestamp, float(s.equity)) for s in snapshots]
    orders = {o.client_order_id: o for o in ledger.orders_between(start, end)}
    fills = []
    booked = ledger.fills_between(start, end)
    by_strategy: dict[str, list[Fill]] = {}
    for f in booked:
        by_strategy.setdefault(orders[f.order_id].strategy if f.order_id in orders else "", []).append(f)
    trips = [t for name, mine in by_strategy.items() for t in round_trips(mine, orders.values(), name)[0]]
    exits = Counter(t.exit_reason for t in trips)
    for f in booked:
        order = orders.get(f.order_id)
        fills.append(
            TradeSlippage(
                f.timestamp, f.symbol, f.side.value, f.qty, f.price, order.decision_price if order else None,
                order.strategy if order else "",
            )
        )  # fmt: skip
    refused: list[tuple[str, str]] = []
    day = start.date()
    while day <= end.date():
        refused += [
            ("refused", str(e.details.get("rule", ""))) for e in ledger.risk_events_on(day) if e.kind == "rejection"
        ]
        day += timedelta(days=1)
    return RunData(
        f"account {account}",
        f"ledger, {start:%Y-%m-%d}..{end:%Y-%m-%d}",
        curve,
        curve[0][1],
        fills,
        refusals_by_rule(refused),
        exits=dict(exits),
        trips=trips,
    )


def _svg(fig: Any) -> str:
    buffer = io.StringIO()
    # no metadata block: no creation date (the same run renders the same page), no namespace URIs
    fig.savefig(
        buffer,
        format="svg",
        bbox_inches="tight",
        metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
    )
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def charts(series: DailySeries, benchmark: Sequence[float]) -> dict[str, str]:
    """The tearsheet's charts as inline SVG."""
    import matplotlib  # noqa: PLC0415 - only a report pays for it

    matplotlib.use("Agg")
    import matplotlib.dates as mdates  # noqa: PLC0415
    import matplotlib.pyplot as plt  # noqa: PLC0415

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9})
    days = series.days
    out = {}
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 5.2), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.plot(days, series.equity, label="strategy", color="#1f77b4", linewidth=1.4)
    if benchmark:
        top.plot(days, benchmark, label="buy and hold", color="#888888", linewidth=1.0, linestyle="--")
    top.set_ylabel("equity at the close ($)")
    top.legend(loc="upper left")
    top.grid(alpha=0.3)
    bottom.fill_between(days, [d * 100 for d in series.drawdown], 0, color="#d62728", alpha=0.4)
    bottom.set_ylabel("drawdown %")
    bottom.grid(alpha=0.3)
    _date_axis(bottom, mdates, 8)  # each date once, readable
    out["equity"] = _svg(fig)
    plt.close(fig)
    fig, (rolling, spread) = plt.subplots(1, 2, figsize=(10, 3))
    values = rolling_sharpe(series.returns, ROLLING_DAYS)
    if any(v is not None for v in values):
        rolling.plot(days, [float("nan") if v is None else v for v in values], color="#2ca02c")
        rolling.axhline(0, color="#999999", linewidth=0.8)
        _date_axis(rolling, mdates, 6)
        rolling.grid(alpha=0.3)
    else:  # an empty axis would count from 1970
        rolling.axis("off")
        rolling.text(0.5, 0.5, f"not enough data: {len(days)} sessions,\n{ROLLING_DAYS + 1} needed", ha="center")
    rolling.set_title(f"rolling Sharpe ({ROLLING_DAYS} sessions)")
    spread.hist([r * 100 for r in series.returns], bins=min(40, max(5, len(series.returns) // 2)), color="#9467bd")
    spread.set_title("daily returns (%)")
    spread.grid(alpha=0.3)
    fig.tight_layout()
    out["rolling"] = _svg(fig)
    plt.close(fig)
    return out


def _date_axis(axis: Any, mdates: Any, ticks: int) -> None:
    """Concise date labels (year and month once, then days): not the same date repeated."""
    locator = mdates.AutoDateLocator(minticks=3, maxticks=ticks)
    axis.xaxis.set_major_locator(locator)
    axis.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def render(run: RunData, benchmark_closes: Mapping[str, Sequence[tuple[date, float]]] | None = None) -> str:
    """The tearsheet's HTML."""
    series = daily_series(run.curve, run.initial)
    benchmark = buy_and_hold(benchmark_closes or {}, series.days, run.initial)
    figures = charts(series, benchmark)
    final = series.equity[-1] if series.equity else run.initial
    bench_return = benchmark[-1] / run.initial - 1 if benchmark else None
    # the one definition of every headline figure: the backtest summary's (drawdown on every bar)
    m = compute_metrics(Decimal(repr(run.initial)), Decimal(repr(final)), run.curve, [], 0)
    headline = [
        ("period", f"{series.days[0]} .. {series.days[-1]} ({len(series.days)} sessions)" if series.days else "-"),
        ("total return", _pct(m.total_return)),
        ("buy and hold", "-" if bench_return is None else _pct(bench_return)),
        ("Sharpe", _num(m.sharpe)),
        ("Sortino", _num(m.sortino)),
        ("max drawdown", f"{m.max_drawdown:.2%}"),
        ("best / worst day", f"{_pct(max(series.returns, default=0))} / {_pct(min(series.returns, default=0))}"),
        ("fills", str(len(run.fills))),
        (
            "median slippage",
            _bps(
                statistics.median(s)
                if (s := [f.slippage_bps for f in run.fills if f.slippage_bps is not None])
                else None
            ),
        ),
    ]
    months = monthly_returns(series.days, series.equity, run.initial)
    where = "fills.csv" if run.manifest is not None or run.data_files else "the ledger (GET /fills)"
    parts = [
        f"<h1>{_e(run.title)}</h1><p class=dim>{_e(run.source)}</p>",
        "<section><h2>Summary</h2>"
        + _table(["figure", "value"], [*headline, *sections.risk_rows(m, series, benchmark, run.initial)])
        + "</section>",
        "<section><h2>Equity and drawdown</h2>" + figures["equity"] + "</section>",
        "<section><h2>Worst drawdowns</h2>" + sections.drawdowns(series, run.initial) + "</section>",
        "<section><h2>Monthly returns</h2>" + _months(months) + "</section>",
        "<section><h2>Yearly returns</h2>" + sections.years(series, run.initial) + "</section>",
        "<section><h2>Rolling Sharpe and the return distribution</h2>" + figures["rolling"] + "</section>",
        "<section><h2>Risk refusals by rule</h2>"
        + (
            _table(["rule", "orders refused"], [[r, str(n)] for r, n in run.refusals.items()])
            if run.refusals
            else "<p>none</p>"
        )
        + "</section>",
        "<section><h2>Closed trades by exit reason</h2>"
        + (
            _table(["exit", "trades"], [[r, str(run.exits[r])] for r in EXIT_REASONS if run.exits.get(r)])
            if run.exits
            else "<p>none</p>"
        )
        + "</section>",
        "<section><h2>Closed trades</h2>" + sections.trades(run.trips) + "</section>",
        "<section><h2>Fills and slippage</h2>" + sections.fills(run.fills, where) + "</section>",
        "<section><h2>Configuration</h2><pre>"
        + _e(json.dumps(run.configuration, indent=2, default=str))
        + "</pre></section>",
        "<section><h2>Data manifest</h2><pre>"
        + _e(json.dumps({k: v for k, v in (run.manifest or {}).items() if k != "configuration"}, indent=2, default=str))
        + "</pre></section>",
    ]
    return PAGE.format(title=_e(run.title), body="\n".join(parts))


def _months(months: Mapping[tuple[int, int], float]) -> str:
    years = sorted({y for y, _ in months})
    head = ["year", *[date(2000, m, 1).strftime("%b") for m in range(1, 13)]]
    rows = [[str(y), *[_pct(months[(y, m)]) if (y, m) in months else "" for m in range(1, 13)]] for y in years]
    return _table(head, rows)


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    return sections.table(head, rows)


def _e(text: str) -> str:
    return html.escape(text)


def _pct(value: float) -> str:
    return f"{value:+.2%}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _bps(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f} bps"


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>{title}</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
h1 {{ margin-bottom: 0; }} h2 {{ border-bottom: 1px solid #ddd; padding-bottom: 4px; }}
.dim {{ color: #777; margin-top: 4px; }}
table {{ border-collapse: collapse; font-variant-numeric: tabular-nums; }}
td, th {{ border: 1px solid #e3e3e3; padding: 3px 8px; text-align: right; }}
th {{ background: #f5f5f5; }} td:first-child, th:first-child {{ text-align: left; }}
pre {{ background: #f7f7f7; padding: 8px; overflow-x: auto; font-size: 12px; }}
svg {{ max-width: 100%; height: auto; }}
section > table {{ display: inline-table; vertical-align: top; margin: 0 1.5em 1em 0; }}
@media print {{
  body {{ margin: 0; max-width: none; font-size: 11px; }}
  section {{ break-inside: avoid; }}
  pre {{ white-space: pre-wrap; overflow-x: visible; }}
}}
</style></head><body>
{body}
</body></html>
"""
