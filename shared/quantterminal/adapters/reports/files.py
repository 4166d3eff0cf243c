"""Write backtest results to files: trades, fills, signals and equity as CSV; equity as PNG."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from quantterminal.core.accounting.metrics import Metrics
from quantterminal.core.simulation.backtest import BacktestResult

TRADE_COLUMNS = (
    "symbol",
    "entry_time",
    "exit_time",
    "side",
    "qty",
    "entry_price",
    "exit_price",
    "gross_pnl",
    "commission",
    "pnl",
    "exit_reason",
    "strategy",  # the instance (added last: a reader of the earlier file finds every column where it was)
)


def _write_rows(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    tmp.replace(path)  # readers never see a half-written file
    return path


def write_trades_csv(path: Path, result: BacktestResult) -> Path:
    """One row per closed round trip; prices to 4 decimals, money to the cent as computed."""
    rows = [
        (
            t.symbol,
            t.entry_time.isoformat(),
            t.exit_time.isoformat(),
            t.side.value,
            t.qty,
            f"{t.entry_price:.4f}",
            f"{t.exit_price:.4f}",
            t.gross_pnl,
            t.commission,
            t.pnl,
            t.exit_reason,
            t.strategy,
        )
        for t in result.trades
    ]
    return _write_rows(path, TRADE_COLUMNS, rows)


def write_fills_csv(path: Path, result: BacktestResult) -> Path:
    """One row per fill."""
    rows = [
        (
            f.timestamp.isoformat(),
            f.symbol,
            f.side.value,
            f.qty,
            f.price,
            f.commission,
            f.order_id,
            f.execution_id,
        )
        for f in result.fills
    ]
    header = ("timestamp", "symbol", "side", "qty", "price", "commission", "order_id", "execution_id")
    return _write_rows(path, header, rows)


def write_signals_csv(path: Path, result: BacktestResult) -> Path:
    """Every change of wanted direction, with the bar it was decided on."""
    rows = [(s.bar_time.isoformat(), s.symbol, s.strategy, s.direction.value, s.price) for s in result.signals]
    return _write_rows(path, ("bar_time", "symbol", "strategy", "direction", "close"), rows)


def write_orders_csv(path: Path, result: BacktestResult) -> Path:
    """Every order the kernel made: placed (filled or not, and why not) or refused by the risk
    manager (with the rule)."""
    unfilled = {o.order.client_order_id: o for o in result.not_filled}
    rows = []
    for order in result.orders:
        miss = unfilled.get(order.client_order_id)
        outcome = ("placed", "", "") if miss is None else ("not filled", miss.rule, miss.reason)
        rows.append((order, *outcome))
    rows += [(o.order, "refused", o.rule, o.reason) for o in result.refused]
    rows.sort(key=lambda r: (r[0].decision_time, r[0].client_order_id))
    columns = ("decision_time", "client_order_id", "strategy", "symbol", "side", "qty", "type", "limit_price")
    return _write_rows(
        path,
        # columns added later go last: a reader of the earlier file finds every column where it was
        (*columns, "decision_price", "outcome", "rule", "reason", "stop_price", "time_in_force"),
        [
            (
                o.decision_time.isoformat() if o.decision_time else "",
                o.client_order_id,
                o.strategy,
                o.symbol,
                o.side.value,
                o.qty,
                o.order_type.value,
                "" if o.limit_price is None else o.limit_price,
                o.decision_price,
                outcome,
                rule,
                reason,
                "" if o.stop_price is None else o.stop_price,
                o.time_in_force.value,
            )
            for o, outcome, rule, reason in rows
        ],
    )


def write_equity_csv(path: Path, curve: Sequence[tuple[datetime, float]]) -> Path:
    """The equity curve, one row per timestamp, to the cent."""
    return _write_rows(path, ("timestamp", "equity"), [(ts.isoformat(), f"{eq:.2f}") for ts, eq in curve])


def metrics_row(name: str, m: Metrics) -> dict[str, object]:
    """A flat, printable dict of one run's metrics."""
    return {
        "strategy": name,
        "initial_equity": m.initial_equity,
        "final_equity": m.final_equity,
        "total_return": m.total_return,
        "cagr": m.cagr,
        "sharpe": m.sharpe,
        "sortino": m.sortino,
        "max_drawdown": m.max_drawdown,
        "win_rate": m.win_rate,
        "num_trades": m.num_trades,
        "avg_trade": m.avg_trade,
        "exposure": m.exposure,
        "trading_days": m.trading_days,
    }


def write_summary_csv(path: Path, results: Mapping[str, BacktestResult]) -> Path:
    """One row of metrics per strategy."""
    rows = [metrics_row(name, r.metrics) for name, r in results.items()]
    header = list(rows[0]) if rows else ["strategy"]
    return _write_rows(path, header, [["" if row[h] is None else row[h] for h in header] for row in rows])


def plot_equity(path: Path, curves: Mapping[str, Sequence[tuple[datetime, float]]], title: str) -> Path:
    """A PNG of one or more equity curves against bar number (sessions are not contiguous in
    time, so a time axis would be mostly overnight gaps)."""
    # Imported here: matplotlib costs ~0.3 s at start-up and most commands never plot.
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=110)
    try:
        for name, curve in curves.items():
            ax.plot(range(len(curve)), [equity for _, equity in curve], label=name, linewidth=1.0)
        first = next((c for c in curves.values() if c), None)
        if first:
            ticks = list(range(0, len(first), max(1, len(first) // 8)))
            ax.set_xticks(ticks, [first[i][0].strftime("%Y-%m-%d") for i in ticks], rotation=20, fontsize=8)
        ax.set_title(title)
        ax.set_ylabel("equity ($)")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path
