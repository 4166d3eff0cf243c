"""The research functions a notebook calls: ``quantterminal.backtest(...)``,
``quantterminal.optimize(...)`` and ``quantterminal.download(...)``, with results as pandas
DataFrames.

Both run exactly what ``qterm backtest`` and ``qterm optimize`` run (the one kernel, the
configuration's orders, risk and fill model); only the output differs::

    import quantterminal as qt
    run = qt.backtest("quantterminal.toml")  # or qt.backtest(["momentum"], params={"momentum": {"fast": 5}})
    run.trades.pnl.sum(), run.equity.equity.iloc[-1], run.metrics["sharpe"]
    search = qt.optimize("quantterminal.toml", workers=2)   # needs quantterminal[research]
    search.windows[["oos_score", "is_score", "degradation"]]
    bars = qt.download(["SPY"], "2024-01-01", "2024-03-31", out="data")  # qterm data download
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quantterminal.adapters.market_data.csv_bars import load_bars, resolve_source
from quantterminal.config.load import LoadedConfig, load_config
from quantterminal.core.simulation.backtest import BacktestConfig, BacktestResult
from quantterminal.wiring.backtest import run_backtest

DataFrame = Any  # pandas.DataFrame (pandas has no type stubs installed here)
DEFAULT_DATA = "sample:spy_2011"


@dataclass(frozen=True)
class BacktestFrames:
    """A backtest's trades, fills, orders and equity as DataFrames, its metrics as a dict, and the
    ``result`` itself (exact Decimals)."""

    trades: DataFrame
    fills: DataFrame
    orders: DataFrame
    equity: DataFrame
    metrics: dict[str, Any]
    result: BacktestResult


def _configuration(
    config: str | Path | LoadedConfig | Sequence[str] | None, params: Mapping[str, Mapping[str, Any]]
) -> LoadedConfig:
    if isinstance(config, LoadedConfig):
        loaded = config
    elif config is None or isinstance(config, str | Path):
        loaded = load_config(config)
    else:  # instance names of the shipped configuration
        loaded = load_config(None).select(list(config))
    values = [(f"{name}.{key}", str(value)) for name, given in params.items() for key, value in given.items()]
    return loaded.with_overrides(params=values)


def backtest(
    config: str | Path | LoadedConfig | Sequence[str] | None = None,
    data: str | None = None,
    symbols: Sequence[str] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> BacktestFrames:
    """Backtest a configuration (a file, a loaded one, or instance names of the shipped one) on
    ``data`` (a CSV file or folder, or ``sample:NAME``; default: the configuration's
    ``[data].backtest``), with ``params`` by instance over the configured ones; all instances share
    one account, as they do live."""
    import pandas as pd  # type: ignore[import-untyped]  # noqa: PLC0415 - only research needs it

    loaded = _configuration(config, params or {})
    c = loaded.config
    chosen = list(symbols) if symbols is not None else list(c.data.symbols)
    bars = load_bars(resolve_source(data or c.data.backtest or DEFAULT_DATA), symbols=chosen)
    setup = BacktestConfig(
        loaded.instances, cash=c.broker.cash, trading=c.trading(), fills=c.fills(), account=c.account
    )
    result = run_backtest(setup, bars)
    trades = pd.DataFrame(
        [{**_plain(t), "side": t.side.value, "pnl": float(t.pnl)} for t in result.trades],
        columns=[
            "symbol",
            "side",
            "qty",
            "entry_time",
            "exit_time",
            "entry_price",
            "exit_price",
            "gross_pnl",
            "commission",
            "pnl",
        ],
    )
    fills = pd.DataFrame(
        [{**_plain(f), "side": f.side.value} for f in result.fills],
        columns=["symbol", "timestamp", "side", "qty", "price", "commission", "order_id", "execution_id"],
    )
    orders = pd.DataFrame(
        [{**_plain(o), "side": o.side.value, "order_type": o.order_type.value} for o in result.orders],
        columns=[
            "client_order_id",
            "strategy",
            "symbol",
            "side",
            "qty",
            "order_type",
            "decision_time",
            "decision_price",
            "limit_price",
        ],
    )
    equity = pd.DataFrame(list(result.equity_curve), columns=["time", "equity"]).set_index("time")
    metrics = {k: float(v) if hasattr(v, "is_finite") else v for k, v in dataclasses.asdict(result.metrics).items()}
    return BacktestFrames(trades, fills, orders, equity, metrics, result)


def _plain(record: Any) -> dict[str, Any]:
    """A dataclass's fields, Decimals as floats (a DataFrame column of Decimals is an object column)."""
    return {k: float(v) if hasattr(v, "is_finite") else v for k, v in dataclasses.asdict(record).items()}


@dataclass(frozen=True)
class OptimizeFrames:
    """A walk-forward search: one row per window (out-of-sample first), every trial, and the
    configuration with the promoted parameters (``promoted.toml()`` is ``best.toml``)."""

    windows: DataFrame
    trials: DataFrame
    best_params: dict[str, Any]
    promoted: LoadedConfig


def optimize(
    config: str | Path | LoadedConfig,
    data: str | None = None,
    storage: str | None = None,
    study: str | None = None,
    workers: int = 1,
) -> OptimizeFrames:
    """``qterm optimize`` as a function (needs the research extra)."""
    import pandas as pd  # noqa: PLC0415

    from quantterminal.wiring import optimize as search  # noqa: PLC0415 - optuna is optional

    loaded = config if isinstance(config, LoadedConfig) else load_config(config)
    spec = loaded.config.optimize
    if spec is None:
        raise ValueError(f"{loaded.source}: no [optimize] section")
    report = search.optimize(
        loaded,
        data or loaded.config.data.backtest,
        storage or search.default_storage(None, None),
        study or f"optimize-{spec.strategy}",
        workers,
    )
    windows = pd.DataFrame(
        [
            {
                "window": w.window.index,
                "oos_start": w.window.out_of_sample[0],
                "oos_end": w.window.out_of_sample[-1],
                "oos_score": w.out_of_sample,
                "oos_return": w.oos_return,
                "oos_trades": w.oos_trades,
                "oos_fills": w.oos_fills,  # none: its return says nothing of the parameters
                "is_score": w.in_sample,
                "degradation": w.degradation,
                "trials": w.trials,
                **{f"param_{k}": v for k, v in w.params.items()},
            }
            for w in report.windows
        ]
    ).set_index("window")
    return OptimizeFrames(
        windows, pd.DataFrame(report.trials), dict(report.best_params), search.promoted(loaded, report)
    )


def download(
    symbols: Sequence[str],
    start: str,
    end: str,
    out: str | Path = "data",
    timeframe: str = "1min",
    source: str = "alpaca",
    feed: str = "iex",
    adjustment: str | None = None,
    url: str | None = None,
) -> DataFrame:
    """What ``qterm data download`` does (Parquet files in ``out``, resuming), then the bars of
    ``symbols`` from ``start`` to ``end`` (New York dates, both included) as one DataFrame."""
    from datetime import UTC, date, datetime  # noqa: PLC0415

    import pandas as pd  # noqa: PLC0415

    from quantterminal.wiring import download as fetch  # noqa: PLC0415

    first, last = date.fromisoformat(start), date.fromisoformat(end)
    wanted = sorted({s.upper() for s in symbols})
    chunks = fetch.plan(wanted, first, last, datetime.now(UTC), source, feed)
    job = fetch.prepare(source, timeframe, None, feed=feed, adjustment=adjustment, url=url, out=Path(out))
    try:
        fetch.download(job.source, job.target, chunks, timeframe)
    finally:
        job.close()
    lo, hi = fetch.midnight(first), fetch.midnight(date.fromordinal(last.toordinal() + 1))
    rows = [
        {"symbol": b.symbol, "timestamp": b.timestamp, "open": b.open, "high": b.high, "low": b.low}
        | {"close": b.close, "volume": b.volume}
        for series in load_bars(Path(out), symbols=wanted).values()
        for b in series
        if lo <= b.timestamp < hi
    ]
    return pd.DataFrame(rows, columns=["symbol", "timestamp", "open", "high", "low", "close", "volume"])
