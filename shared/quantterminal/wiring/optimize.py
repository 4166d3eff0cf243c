"""``qterm optimize`` wired: a walk-forward parameter search for one strategy instance, its trials
run by worker processes sharing Optuna studies in one storage, every trial a backtest through the
one kernel (risk included).

Each walk-forward window is a study (``NAME-w0-<key>``, ``NAME-w1-<key>`` ...) searched on the
window's in-sample sessions only; the key is a digest of everything that decides a trial's score
(``core.research.study_key``), so a rerun with other windows, data, space or settings never reuses
a trial. ``workers`` local processes join the studies; the same command on another machine, with
the same configuration and data, pointed at the same storage and study name, adds its workers. Once this machine's
workers are done, each window's best parameters are run unchanged on its out-of-sample sessions --
the figures the report leads with. The last window's best are the ones promoted to a configuration.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from quantterminal.adapters.market_data.csv_bars import load_bars, resolve_source
from quantterminal.adapters.reports import search_charts
from quantterminal.adapters.research import optuna_study as engine
from quantterminal.config.load import LoadedConfig, from_mapping
from quantterminal.config.model import OptimizeSection
from quantterminal.core.market_data.bar_series import bars_between
from quantterminal.core.market_data.sessions import day_bounds
from quantterminal.core.models import Bar
from quantterminal.core.research.space import Range
from quantterminal.core.research.study_key import window_study
from quantterminal.core.research.walk_forward import Window, WindowResult, score, sessions_of, windows, within
from quantterminal.core.simulation.backtest import BacktestConfig, BacktestResult
from quantterminal.core.strategies import StrategyError
from quantterminal.core.strategies.base import parse_params
from quantterminal.core.strategies.instance import ONE, StrategyInstance
from quantterminal.core.trading.answers import warmup_window
from quantterminal.wiring.backtest import run_backtest


@dataclass(frozen=True)
class SearchJob:
    """What one worker process needs (plain data: it is sent to a fresh interpreter)."""

    config: Mapping[str, Any]  # the resolved configuration (command-line overrides applied)
    source: str
    base: str  # where its strategy files are found
    data: str
    symbols: tuple[str, ...]
    storage: str
    study: str
    worker: int


@dataclass(frozen=True)
class OptimizeReport:
    """A finished walk-forward search."""

    windows: list[WindowResult]
    best_params: Mapping[str, Any]
    trials: list[dict[str, Any]]  # every finished trial of every window (the CSV's rows)
    seconds: float
    studies: list[str] = dataclasses.field(default_factory=list)  # each window's study, in order

    @property
    def trial_count(self) -> int:
        return len(self.trials)


def bars_for(data: str, symbols: Sequence[str]) -> dict[str, Sequence[Bar]]:
    """The bars a search runs on (a CSV file or folder, or ``sample:NAME``)."""
    return load_bars(resolve_source(data), symbols=list(symbols) or None)


def plan(loaded: LoadedConfig, bars: Mapping[str, Sequence[Bar]]) -> tuple[OptimizeSection, list[Window]]:
    """The search the configuration declares and the walk-forward windows that fit the data."""
    spec = loaded.config.optimize
    if spec is None:
        raise ValueError(f"{loaded.source}: no [optimize] section (what to search: strategy, space, objective)")
    wf = spec.walk_forward
    return spec, windows(sessions_of(bars), wf.in_sample, wf.out_of_sample, wf.anchored, wf.windows)


def identity(loaded: LoadedConfig, spec: OptimizeSection) -> dict[str, Any]:
    """What decides a trial's score, as plain data (see ``core.research.study_key``): the searched
    instance (its allocation aside: it is searched on a whole account) with a digest of its
    strategy's source, the search's space, objective and minimum trades, and the orders, risk and
    broker settings. How many trials, from which seed, by which sampler: not what a trial scores."""
    resolved = loaded.resolved()
    entry = next(s for s in resolved["strategies"] if s["name"] == spec.strategy)
    instance = next(i for i in loaded.instances if i.name == spec.strategy)
    search = {k: v for k, v in resolved["optimize"].items() if k in ("strategy", "objective", "min_trades", "space")}
    return {
        "instance": {k: v for k, v in entry.items() if k != "allocation"},
        "code": _source_digest(instance.strategy),
        "search": search,
        **{section: resolved[section] for section in ("orders", "risk", "broker")},
    }


def _source_digest(strategy: type) -> str:
    """A SHA-256 of the file that defines ``strategy`` (edited code scores trials anew)."""
    try:
        source = Path(inspect.getsourcefile(strategy) or "")
        return hashlib.sha256(source.read_bytes()).hexdigest()
    except (OSError, TypeError):
        return f"{strategy.__module__}.{strategy.__qualname__}"  # no file (a class made at run time)


def study_names(
    base: str, loaded: LoadedConfig, spec: OptimizeSection, planned: Sequence[Window], bars: Mapping[str, Sequence[Bar]]
) -> list[str]:
    """Each planned window's study in the search ``base``."""
    ident = identity(loaded, spec)
    return [window_study(base, w, ident, bars) for w in planned]


def _space(spec: OptimizeSection) -> dict[str, Range]:
    return {name: r.to_range() for name, r in spec.space.items()}


def searched(loaded: LoadedConfig, spec: OptimizeSection, params: Mapping[str, Any]) -> StrategyInstance:
    """The searched instance with ``params`` over its own, on a whole account."""
    instance = next(i for i in loaded.instances if i.name == spec.strategy)
    merged = {**dataclasses.asdict(instance.params), **params}
    return replace(instance, params=parse_params(instance.strategy.params_type, merged), allocation=ONE)


def backtest_with(
    loaded: LoadedConfig,
    spec: OptimizeSection,
    params: Mapping[str, Any],
    bars: Mapping[str, Sequence[Bar]],
    warmup: Mapping[str, Sequence[Bar]] | None = None,
) -> BacktestResult:
    """The searched instance alone, on a whole account, with ``params`` over its own (warmed up
    on ``warmup``'s bars first, if given)."""
    c = loaded.config
    config = BacktestConfig((searched(loaded, spec, params),), cash=c.broker.cash, trading=c.trading(), fills=c.fills())
    return run_backtest(config, bars, warmup=warmup)


def warmup_before(
    instance: StrategyInstance, bars: Mapping[str, Sequence[Bar]], days: Sequence[date]
) -> dict[str, Sequence[Bar]]:
    """The bars before ``days`` that warm ``instance`` up as live would (``answers.warmup_window``:
    whole trading days holding its ``warmup_bars``), by symbol; fewer where the data begins later."""
    start, end = warmup_window(instance, day_bounds(days[0])[0])
    found = {s: bars_between(series, start, end) for s, series in bars.items()}
    return {s: series for s, series in found.items() if series}


def search(job: SearchJob, bars: Mapping[str, Sequence[Bar]] | None = None) -> int:
    """One worker: run trials in every window's study until each holds the number asked for
    (on ``bars`` when the caller has them loaded already: the one worker in its own process)."""
    loaded = from_mapping(job.config, job.source, Path(job.base))
    bars = bars_for(job.data, job.symbols) if bars is None else bars
    spec, planned = plan(loaded, bars)
    space = _space(spec)
    ran = 0
    for window, name in zip(planned, study_names(job.study, loaded, spec, planned, bars), strict=True):
        study = engine.open_study(name, job.storage, spec.sampler, space, _seed(spec, job))
        # Bar objects made once for the window's every trial (a BarSeries would make them per trial)
        in_sample = {symbol: list(series) for symbol, series in within(bars, window.in_sample).items()}

        def objective(trial: Any, in_sample: Mapping[str, Sequence[Bar]] = in_sample) -> float:
            params = engine.suggest(trial, space)
            trial.set_user_attr("worker", f"{os.uname().nodename}:{os.getpid()}")
            try:
                result = backtest_with(loaded, spec, params, in_sample)
            except StrategyError as exc:  # e.g. fast >= slow: not a point of the space
                raise engine.TrialPruned(str(exc)) from None
            trades = result.metrics.num_trades
            trial.set_user_attr("trades", trades)
            value = score(spec.objective, result.metrics, result.trades)
            if trades < spec.min_trades or value is None:
                raise engine.TrialPruned(f"{trades} trades, {spec.objective} {value}")
            return value

        before = len(engine.finished(study))
        engine.run_trials(study, objective, spec.trials)
        ran += len(engine.finished(study)) - before
    return ran


def _seed(spec: OptimizeSection, job: SearchJob) -> int | None:
    return None if spec.seed is None else spec.seed + job.worker  # workers must not sample the same points


def optimize(
    loaded: LoadedConfig,
    data: str,
    storage: str,
    study: str,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> OptimizeReport:
    """Search (``workers`` local processes), then judge each window out of sample."""
    started = time.monotonic()
    symbols = tuple(loaded.config.data.symbols)
    bars = bars_for(data, symbols)
    spec, planned = plan(loaded, bars)
    space = _space(spec)
    # the studies are created here, once, before the workers race to
    names = study_names(study, loaded, spec, planned, bars)
    studies = [engine.open_study(name, storage, spec.sampler, space, spec.seed) for name in names]
    resolved = loaded.resolved()
    jobs = [
        SearchJob(resolved, loaded.source, str(loaded.base), data, symbols, storage, study, w) for w in range(workers)
    ]
    total = spec.trials * len(planned)

    def report_progress() -> None:
        if progress is not None:
            progress(sum(min(spec.trials, len(engine.finished(s))) for s in studies), total)

    if workers == 1:
        failed: list[BaseException] = []
        worker = threading.Thread(target=lambda: _capture(lambda job: search(job, bars), jobs[0], failed), daemon=True)
        worker.start()
        while worker.is_alive():
            report_progress()
            worker.join(0.5)
        if failed:
            raise failed[0]
    else:
        context = multiprocessing.get_context("spawn")  # a clean interpreter: no inherited connections
        with context.Pool(workers) as pool:
            pending = pool.map_async(search, jobs)
            while not pending.ready():
                report_progress()
                pending.wait(0.5)
            pending.get()  # a worker's error surfaces here
    report_progress()
    results, rows = [], []
    for window, s, name in zip(planned, studies, names, strict=True):
        rows += [_row(window, t, name) for t in engine.finished(s)]
        chosen = engine.best(s)
        if chosen is None:
            raise ValueError(
                f"window {window.index}: no trial had {spec.min_trades}+ trades and a defined {spec.objective}"
            )
        # judged as it would trade: its indicators warmed up on the bars before the window, not cold
        warm = warmup_before(searched(loaded, spec, chosen.params), bars, window.out_of_sample)
        oos = backtest_with(loaded, spec, chosen.params, within(bars, window.out_of_sample), warm)
        results.append(
            WindowResult(
                window,
                dict(chosen.params),
                chosen.value,
                score(spec.objective, oos.metrics, oos.trades),
                oos.metrics.total_return,
                oos.metrics.num_trades,
                len(engine.finished(s)),
                len(oos.fills),
            )
        )
    return OptimizeReport(results, results[-1].params, rows, time.monotonic() - started, names)


def _capture(run: Callable[[SearchJob], int], job: SearchJob, failed: list[BaseException]) -> None:
    try:
        run(job)
    except BaseException as exc:
        failed.append(exc)


def _row(window: Window, trial: Any, study: str) -> dict[str, Any]:
    return {
        "window": window.index,
        "study": study,
        "trial": trial.number,
        "state": trial.state.name.lower(),
        "value": trial.value,
        "trades": trial.user_attrs.get("trades"),
        "worker": trial.user_attrs.get("worker"),
        **{f"param_{k}": v for k, v in trial.params.items()},
    }


def promoted(loaded: LoadedConfig, report: OptimizeReport) -> LoadedConfig:
    """The configuration with the searched instance's parameters set to the promoted ones (what
    ``qterm paper --config`` and ``cdk deploy -c config=`` take as is)."""
    spec = loaded.config.optimize
    assert spec is not None
    values = [(f"{spec.strategy}.{k}", str(v)) for k, v in report.best_params.items()]
    return loaded.with_overrides(params=values)


def charts(out: Path, report: OptimizeReport, objective: str) -> list[Path]:
    """The search's pictures in ``out``: the in/out-of-sample scatter and, when trials completed,
    the parameter heatmap (``adapters.reports.search_charts``)."""
    heat = search_charts.heatmap(out / "heatmap.png", report.trials, objective)
    scatter = search_charts.in_out_scatter(out / "in_out_of_sample.png", report.windows, objective)
    return [scatter, *([heat] if heat else [])]


def default_storage(database: str | None, out: Path | None) -> str:
    """The ledger's PostgreSQL if there is one, else a SQLite file beside the outputs."""
    if database and database.startswith(("postgresql://", "postgres://")):
        return database
    return f"sqlite:///{(out or Path.cwd()) / 'optuna.sqlite3'}"
