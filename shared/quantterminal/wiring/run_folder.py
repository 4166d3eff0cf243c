"""A command's output folder: made ready before the run (a previous run's outputs are replaced
only with ``--overwrite``; a folder that is not a run's is refused), filled with the run's files
(CSV tables, equity charts), and closed with its manifest (configuration, inputs by digest,
outputs, start time), so a run can be traced back to what produced it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from quantterminal.adapters.reports import files as reports
from quantterminal.adapters.reports.manifest import Manifest, prepare_out, write_manifest
from quantterminal.core.simulation.backtest import BacktestResult


@dataclass
class RunFolder:
    """One run's output folder, from ``prepare`` to ``finish``."""

    out: Path
    command: str
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    created: bool = False  # the folder did not exist before this run

    @classmethod
    def prepare(cls, out: Path, command: str, overwrite: bool, started: datetime | None = None) -> RunFolder:
        """Make ``out`` ready (see the module docs); ``ValueError`` if it cannot be used."""
        prepare_out(out, overwrite)
        return cls(out, command, started or datetime.now(UTC), created=not out.exists())

    def make(self) -> None:
        """Create the folder now (for what the run keeps in it while it works, e.g. a study file)."""
        self.out.mkdir(parents=True, exist_ok=True)

    def abandon(self) -> None:
        """After a failed start: remove the folder if this run made it and put nothing in it, so a
        failure leaves no trace a later run would have to explain."""
        if self.created and self.out.is_dir() and not any(self.out.iterdir()):
            self.out.rmdir()

    def finish(
        self,
        configuration: Mapping[str, Any],
        data_files: Sequence[Path],
        outputs: Sequence[Path],
        extra: Mapping[str, Any] | None = None,
    ) -> Manifest:
        """Write the manifest of a run that wrote ``outputs``."""
        return write_manifest(self.out, self.command, configuration, data_files, self.started, outputs, extra)


def write_backtest_outputs(out: Path, results: Mapping[str, BacktestResult]) -> list[Path]:
    """Each result's trades, fills, signals, orders, equity (CSV and chart) and the summary; with
    several results, one folder each and a chart of all."""
    written: list[Path] = []
    single = len(results) == 1
    for name, result in results.items():
        folder = out if single else out / name
        written.append(reports.write_trades_csv(folder / "trades.csv", result))
        written.append(reports.write_fills_csv(folder / "fills.csv", result))
        written.append(reports.write_signals_csv(folder / "signals.csv", result))
        written.append(reports.write_orders_csv(folder / "orders.csv", result))
        written.append(reports.write_equity_csv(folder / "equity.csv", result.equity_curve))
        written.append(reports.plot_equity(folder / "equity.png", {name: result.equity_curve}, f"{name} equity"))
    written.append(reports.write_summary_csv(out / "summary.csv", results))
    if not single:
        curves = {n: r.equity_curve for n, r in results.items()}
        written.append(reports.plot_equity(out / "equity.png", curves, "equity by strategy"))
    return written


def plot_divergence(path: Path, backtest: BacktestResult, account: Sequence[tuple[datetime, float]]) -> Path:
    """The backtest's account equity beside the run's."""
    curves: dict[str, Sequence[tuple[datetime, float]]] = {"backtest account": backtest.equity_curve}
    if account:
        curves["paper/live account"] = account
    return reports.plot_equity(path, curves, "equity: backtest vs the run")
