"""What ``qterm backtest`` shows and writes: the summary table (one column per account run), the
strategy instances of a one-account run, and the result files."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from decimal import Decimal

from rich.table import Table

from quantterminal.core.accounting.trades import EXIT_REASONS
from quantterminal.core.market_data.data_checks import describe_interval
from quantterminal.core.models import Bar
from quantterminal.core.reporting.post_trade import strategy_results
from quantterminal.core.simulation.backtest import BacktestResult


def fmt_pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.2f}%"


def fmt_money(value: Decimal | None) -> str:
    if value is None:
        return "n/a"
    return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"


def fmt_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def describe(bars: Mapping[str, Sequence[Bar]], result: BacktestResult) -> str:
    first = min(b[0].timestamp for b in bars.values())
    last = max(b[-1].timestamp for b in bars.values())
    lines = [
        f"Backtest: {', '.join(sorted(bars))} - {result.bars:,} {describe_interval(result.interval)} bars, "
        f"{first:%Y-%m-%d} to {last:%Y-%m-%d}"
    ]
    if result.outside_session:
        lines.append(
            f"{result.outside_session:,} pre/post-market bars left out: the strategies see the regular session"
            ' (an instance\'s session = "extended", or --session extended, includes them)'
        )
    if result.gaps:
        longest = max(result.gaps, key=lambda g: g.sessions)
        limit = result.config.max_gap_sessions
        rule = "positions held across them" if limit is None else f"positions closed before holes over {limit}"
        lines.append(f"data gaps: {len(result.gaps)} ({rule}); longest: {longest.describe()}")
    return "\n".join(lines)


def summary_table(results: dict[str, BacktestResult]) -> Table:
    table = Table()
    table.add_column("metric")
    for name in results:
        table.add_column(name, justify="right")
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, values: list[str]) -> None:
        rows.append((label, values))

    ms = [r.metrics for r in results.values()]
    row("final equity", [fmt_money(m.final_equity) for m in ms])
    row("total return", [fmt_pct(m.total_return) for m in ms])
    row("CAGR", [fmt_pct(m.cagr) for m in ms])
    row("Sharpe", [fmt_ratio(m.sharpe) for m in ms])
    row("Sortino", [fmt_ratio(m.sortino) for m in ms])
    row("max drawdown", [fmt_pct(m.max_drawdown) for m in ms])
    row("trades", [str(m.num_trades) for m in ms])
    row("exits by reason", [exits_by_reason(r) for r in results.values()])
    row("win rate", [fmt_pct(m.win_rate) for m in ms])
    row("avg trade", [fmt_money(m.avg_trade) for m in ms])
    row("exposure", [fmt_pct(m.exposure) for m in ms])
    row("trading days", [str(m.trading_days) for m in ms])
    row("orders placed", [str(len(r.orders)) for r in results.values()])
    row("orders not filled", [str(len(r.not_filled)) for r in results.values()])
    row("refused by risk", [refusals(r) for r in results.values()])
    row("trading halted", [r.halted or "-" for r in results.values()])
    row("closed before a gap", [str(len(r.gap_exits)) for r in results.values()])
    row(
        "open at end",
        [", ".join(f"{s} {q:+d}" for s, q in r.open_positions.items()) or "-" for r in results.values()],
    )
    for label, values in rows:
        table.add_row(label, *values)
    return table


def exits_by_reason(result: BacktestResult) -> str:
    """``-``, or the closed trades by what closed them: ``signal 40, stop 8, take-profit 8``."""
    counts = Counter(t.exit_reason for t in result.trades)
    return ", ".join(f"{reason} {counts[reason]}" for reason in EXIT_REASONS if counts[reason]) or "-"


def refusals(result: BacktestResult) -> str:
    """``0``, or the count and the rules: ``12 (position_limit 10, daily_loss 2)``."""
    by_rule = result.refusals_by_rule()
    if not by_rule:
        return "0"
    return f"{sum(by_rule.values())} (" + ", ".join(f"{rule} {n}" for rule, n in by_rule.items()) + ")"


def instance_table(result: BacktestResult) -> Table:
    """The strategy instances of a one-account run: orders, fills, refusals, realised P&L."""
    table = Table(title=f"strategy instances on account {result.config.account}")
    for column in ("instance", "strategy", "allocation", "orders", "fills", "refused", "round trips", "realised P&L"):
        table.add_column(column, justify="left" if column in ("instance", "strategy") else "right")
    by_name = strategy_results(result.orders, result.fills, result.config.cash, result.config.names)
    for instance in result.config.instances:
        r = by_name[instance.name]
        refused = sum(1 for o in result.refused if o.order.strategy == instance.name)
        table.add_row(
            instance.name,
            instance.spec,
            f"{instance.capital_share:.0%}",
            str(r.orders),
            str(r.fills),
            str(refused),
            str(r.round_trips),
            fmt_money(r.realized_pnl),
        )
    return table
