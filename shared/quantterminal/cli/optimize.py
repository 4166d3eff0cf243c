"""``qterm optimize``: a walk-forward parameter search for one strategy instance, with Optuna."""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from quantterminal.cli.config import add_config_argument
from quantterminal.cli.console import wide_console
from quantterminal.core.research.walk_forward import stitch
from quantterminal.environment import Environment
from quantterminal.errors import StudyError, redact

if TYPE_CHECKING:
    from quantterminal.wiring.optimize import OptimizeReport

DESCRIPTION = """Search the parameters of the strategy instance named in the configuration's [optimize]
section (ranges, choices, log scales; TPE, random or grid; objective sharpe, sortino, calmar,
profit_factor or total_return; a minimum trade count), walk-forward: each window is searched on its
in-sample sessions and judged, unchanged, on the out-of-sample sessions after it. Out-of-sample is
the headline. The study lives in the storage (--storage, else the ledger's PostgreSQL, else a SQLite
file): --workers N local processes join it, and the same command on another machine adds more.
Needs the research extra: pip install 'quantterminal[research]'."""


def register(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument(
        "--data", metavar="SOURCE", help="bars to search on (default: the configuration's [data].backtest)"
    )
    parser.add_argument(
        "--study",
        metavar="NAME",
        help="study name (default: optimize-<instance>); the same name, configuration and data join it",
    )
    parser.add_argument("--workers", type=_positive, default=1, metavar="N", help="local worker processes (default 1)")
    parser.add_argument("--trials", type=_positive, metavar="N", help="trials per window (default: [optimize].trials)")
    parser.add_argument(
        "--storage",
        metavar="URL",
        help="Optuna storage: postgresql://... or sqlite:///file (default: $DATABASE_URL if PostgreSQL, else "
        "optuna.sqlite3 in --out or here)",
    )
    parser.add_argument("--out", type=Path, metavar="DIR", help="write trials.csv, walk_forward.csv/.png, best.toml")
    parser.add_argument("--overwrite", action="store_true", help="replace the outputs of an earlier run in --out")
    parser.set_defaults(handler=run)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    """Handle ``qterm optimize``."""
    try:
        from quantterminal.config.load import ConfigError, load_config  # noqa: PLC0415
        from quantterminal.wiring import optimize as search  # noqa: PLC0415
        from quantterminal.wiring.run_folder import RunFolder  # noqa: PLC0415
    except ImportError as exc:
        print(
            f"qterm optimize: error: {exc.name} is not installed: pip install 'quantterminal[research]'",
            file=sys.stderr,
        )
        return 2
    console = wide_console()
    started = datetime.now(UTC)
    folder: RunFolder | None = None
    try:
        loaded = load_config(args.config)
        if loaded.config.optimize is None:
            raise ConfigError(f"{loaded.source}: no [optimize] section (what to search: strategy, space, objective)")
        sections = {"optimize": {"trials": args.trials}} if args.trials else {}
        loaded = loaded.with_overrides(sections=sections)
        spec = loaded.config.optimize
        assert spec is not None  # an override never removes the section
        data = args.data or loaded.config.data.backtest
        storage = args.storage or search.default_storage(Environment.read().secret("database_url"), args.out)
        study = args.study or f"optimize-{spec.strategy}"
        folder = None if args.out is None else RunFolder.prepare(args.out, "qterm optimize", args.overwrite, started)
        if folder is not None:
            folder.make()  # the default study file lives there
        console.print(
            f"optimize {spec.strategy} ({spec.objective}, {spec.sampler}, {spec.trials} trials a window) on {data}; "
            f"study {study} in {redact(storage)}; {args.workers} worker(s)",
            highlight=False,
        )
        with Progress(
            TextColumn("trials"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
        ) as bar:
            task = bar.add_task("trials", total=None)
            report = search.optimize(
                loaded,
                data,
                storage,
                study,
                args.workers,
                lambda done, total: bar.update(task, completed=done, total=total),
            )
    except (ConfigError, StudyError, ValueError, OSError) as exc:
        if folder is not None:
            folder.abandon()
        print(f"qterm optimize: error: {exc}", file=sys.stderr)
        return 2
    console.print(_table(report, spec.objective))
    console.print(f"{stitched_line(report)} | promoted {spec.strategy}: {dict(report.best_params)}", highlight=False)
    if folder is not None:
        pictures = search.charts(folder.out, report, spec.objective)
        written = _write(folder.out, report, search.promoted(loaded, report).portable_toml(), pictures)
        folder.finish(loaded.resolved(), [], written)
        console.print(
            f"wrote {', '.join(p.name for p in written)} to {args.out}/ (qterm paper --config {args.out / 'best.toml'})"
        )
    return 0


def stitched_line(report: OptimizeReport) -> str:
    """The out-of-sample windows' compound return, how many made no trade, and the search's pace."""
    oos = [w.oos_return for w in report.windows]
    rate = report.trial_count / max(report.seconds, 1e-9)
    idle = sum(w.idle for w in report.windows)
    # a window whose parameters never acted says nothing of them: its +0.00% is not evidence
    untested = f" ({idle} of them made no fill: no evidence)" if idle else ""
    return (
        f"out of sample, stitched: {stitch(oos):+.2%} over {len(oos)} windows{untested} | "
        f"{report.trial_count} trials in {report.seconds:.1f} s ({rate:.1f} trials/s)"
    )


def _table(report: OptimizeReport, objective: str) -> Table:
    table = Table(title=f"walk-forward: out-of-sample first ({objective})")
    for column in (
        "window",
        "out-of-sample",
        f"OOS {objective}",
        "OOS return",
        "OOS trades",
        f"IS {objective}",
        "degradation",
        "params",
        "trials",
    ):
        table.add_column(column)
    for w in report.windows:
        table.add_row(
            str(w.window.index),
            f"{w.window.out_of_sample[0]}..{w.window.out_of_sample[-1]}",
            _num(w.out_of_sample),
            f"{w.oos_return:+.2%}",
            f"{w.oos_trades} [red](no fill)[/]" if w.idle else str(w.oos_trades),
            _num(w.in_sample),
            "-" if w.degradation is None else f"{w.degradation:.0%}",
            ", ".join(f"{k}={v}" for k, v in w.params.items()),
            str(w.trials),
        )
    return table


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _write(out: Path, report: OptimizeReport, best_toml: str, pictures: list[Path]) -> list[Path]:
    trials = out / "trials.csv"
    columns = sorted({k for row in report.trials for k in row}, key=lambda k: (k.startswith("param_"), k))
    with trials.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(report.trials)
    windows = out / "walk_forward.csv"
    with windows.open("w", newline="", encoding="utf-8") as handle:
        plain = csv.writer(handle)
        plain.writerow(
            [
                "window",
                "in_sample",
                "out_of_sample",
                "oos_score",
                "oos_return",
                "oos_trades",
                "is_score",
                "degradation",
                "params",
                "oos_fills",
            ]
        )
        for w in report.windows:
            span = f"{w.window.in_sample[0]}..{w.window.in_sample[-1]}"
            oos = f"{w.window.out_of_sample[0]}..{w.window.out_of_sample[-1]}"
            plain.writerow(
                [
                    w.window.index,
                    span,
                    oos,
                    w.out_of_sample,
                    w.oos_return,
                    w.oos_trades,
                    w.in_sample,
                    w.degradation,
                    dict(w.params),
                    w.oos_fills,
                ]
            )
    best = out / "best.toml"
    best.write_text(best_toml, encoding="utf-8")
    return [trials, windows, _plot(out / "walk_forward.png", report), *pictures, best]


def _plot(path: Path, report: OptimizeReport) -> Path:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    labels = [str(w.window.out_of_sample[0]) for w in report.windows]
    fig, (scores, returns) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    xs = range(len(labels))
    scores.bar([x - 0.2 for x in xs], [w.in_sample or 0 for w in report.windows], 0.4, label="in-sample")
    scores.bar([x + 0.2 for x in xs], [w.out_of_sample or 0 for w in report.windows], 0.4, label="out-of-sample")
    scores.set_ylabel("objective")
    scores.legend()
    returns.bar(list(xs), [w.oos_return * 100 for w in report.windows], color="tab:orange")
    returns.set_ylabel("OOS return %")
    returns.set_xticks(list(xs), labels, rotation=30, ha="right")
    returns.set_xlabel("out-of-sample window start")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
