"""Benchmark: backtester throughput (bars/s) and peak memory over >= 1,000,000 real minute bars.

The real 1-minute files (the team's ``shared/data/intraday_1min`` when present -- benchmarks may
read those unlicensed sets, never ship them -- else the repo's own sample data) are loaded and
repeated under synthetic symbol names (SPY, SPY~1, SPY~2, ...) until there are enough bars. Each
strategy runs in a fresh process so its peak RSS is its own; the figure is the median of
``--repeat`` timed runs of ``Backtester.run`` (merge of all symbols included, loading excluded
and reported separately as rows/s).

With backtrader installed (``pip install -e '.[bench]'``), the same SMA(10)/SMA(30) crossover is
timed in backtrader on one real symbol for comparison, next to ours on the same bars (median of
``--repeat`` runs each, in one fresh process).

Prints a table, then one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import resource
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from quantterminal.adapters.csv_bars import SAMPLE_ROOT, load_bars
from quantterminal.core.backtest import BacktestConfig
from quantterminal.core.models import Bar
from quantterminal.core.risk import RiskLimits
from quantterminal.core.strategies import STRATEGIES
from quantterminal.core.trading_config import TradingConfig
from quantterminal.wiring.backtest import backtester

TEAM_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "intraday_1min"


def data_source() -> Path:
    return TEAM_DATA if TEAM_DATA.is_dir() else SAMPLE_ROOT / "spy_2011"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def load_scaled(min_bars: int) -> tuple[dict[str, list[Bar]], float, int]:
    """Real bars repeated under synthetic symbols up to ``min_bars``; also load rows/s."""
    started = time.perf_counter()
    real = load_bars(data_source())
    elapsed = time.perf_counter() - started
    rows = sum(len(b) for b in real.values())
    scaled: dict[str, list[Bar]] = dict(real)
    copy = 1
    while sum(len(b) for b in scaled.values()) < min_bars:
        for symbol, bars in real.items():
            name = f"{symbol}~{copy}"
            scaled[name] = [
                Bar(name, b.timestamp, b.open, b.high, b.low, b.close, b.volume, b.vwap, b.trade_count) for b in bars
            ]
        copy += 1
    return scaled, rows / elapsed, rows


def _run_strategy(name: str, min_bars: int, repeat: int, queue: Any) -> None:
    bars, load_rows_per_s, real_rows = load_scaled(min_bars)
    total = sum(len(b) for b in bars.values())
    # Every symbol gets an equal slice so cash, not the benchmark, decides nothing.
    share = Decimal(1) / len(bars)
    trading = TradingConfig(position_fraction=share, risk=RiskLimits(position_fraction=share))
    config = BacktestConfig((name,), trading=trading)
    times = []
    result = None
    for _ in range(repeat):
        runner = backtester(config)
        started = time.perf_counter()
        result = runner.run(bars)
        times.append(time.perf_counter() - started)
    assert result is not None
    median = statistics.median(times)
    queue.put(
        {
            "strategy": name,
            "bars": total,
            "symbols": len(bars),
            "bars_per_s": round(total / median),
            "best_bars_per_s": round(total / min(times)),
            "median_s": round(median, 3),
            "fills": len(result.fills),
            "trades": len(result.trades),
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "load_rows_per_s": round(load_rows_per_s),
            "real_rows": real_rows,
        }
    )


def median_seconds(func: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run_isolated(target: Any, *args: Any) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=target, args=(*args, queue))
    process.start()
    figures: dict[str, Any] = queue.get()
    process.join()
    return figures


def _backtrader_compare(bars_count: int, repeat: int, queue: Any) -> None:
    try:
        import backtrader as bt
    except ImportError:
        queue.put({"skipped": "backtrader not installed (pip install -e '.[bench]')"})
        return
    real = load_bars(data_source())
    symbol = max(real, key=lambda s: len(real[s]))
    bars = real[symbol][:bars_count]

    class ListFeed(bt.feed.DataBase):  # type: ignore[misc, name-defined]
        params = (("bars", None),)

        def start(self) -> None:
            super().start()
            self._iter = iter(self.p.bars)

        def _load(self) -> bool:
            b = next(self._iter, None)
            if b is None:
                return False
            self.lines.datetime[0] = bt.date2num(b.timestamp.replace(tzinfo=None))
            self.lines.open[0], self.lines.high[0], self.lines.low[0] = b.open, b.high, b.low
            self.lines.close[0], self.lines.volume[0], self.lines.openinterest[0] = b.close, b.volume, 0
            return True

    class SmaCross(bt.Strategy):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            self.fast = bt.ind.SMA(self.data.close, period=10)
            self.slow = bt.ind.SMA(self.data.close, period=30)

        def next(self) -> None:
            if not self.position and self.fast[0] > self.slow[0]:
                self.buy(size=int(0.1 * self.broker.getvalue() / self.data.close[0]))
            elif self.position and self.fast[0] <= self.slow[0]:
                self.close()

    def run_backtrader() -> None:
        cerebro = bt.Cerebro(stdstats=False)  # no observers: the leanest backtrader run
        cerebro.broker.setcash(100_000)
        cerebro.adddata(ListFeed(bars=bars))
        cerebro.addstrategy(SmaCross)
        cerebro.run()

    def run_ours() -> None:
        backtester(BacktestConfig(("momentum",))).run({symbol: bars})

    bt_seconds = median_seconds(run_backtrader, repeat)
    our_seconds = median_seconds(run_ours, repeat)
    queue.put(
        {
            "bars": len(bars),
            "symbol": symbol,
            "backtrader_bars_per_s": round(len(bars) / bt_seconds),
            "quantterminal_bars_per_s": round(len(bars) / our_seconds),
            "speedup": round(bt_seconds / our_seconds, 1),
        }
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000, help="at least this many bars (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per strategy (median reported)")
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=list(STRATEGIES))
    parser.add_argument("--backtrader-bars", type=int, default=100_000, help="bars for the backtrader comparison")
    parser.add_argument("--no-backtrader", action="store_true")
    args = parser.parse_args()

    results = [run_isolated(_run_strategy, name, args.bars, args.repeat) for name in args.strategies]
    compare = None if args.no_backtrader else run_isolated(_backtrader_compare, args.backtrader_bars, args.repeat)

    first = results[0]
    print(
        f"backtest benchmark - {first['bars']:,} bars over {first['symbols']} symbols "
        f"({first['real_rows']:,} real rows from {data_source()}, repeated), "
        f"Python {platform.python_version()}, median of {args.repeat}"
    )
    print(f"{'strategy':<22}{'bars/s':>12}{'best bars/s':>13}{'seconds':>10}{'fills':>9}{'peak RSS MB':>13}")
    for r in results:
        print(
            f"{r['strategy']:<22}{r['bars_per_s']:>12,}{r['best_bars_per_s']:>13,}{r['median_s']:>10.2f}"
            f"{r['fills']:>9,}{r['peak_rss_mb']:>13,.0f}"
        )
    print(f"CSV loading: {first['load_rows_per_s']:,} rows/s")
    if compare is not None:
        if "skipped" in compare:
            print(f"backtrader comparison skipped: {compare['skipped']}")
        else:
            print(
                f"SMA(10/30) crossover on {compare['bars']:,} {compare['symbol']} bars: backtrader "
                f"{compare['backtrader_bars_per_s']:,} bars/s, "
                f"QuantTerminal {compare['quantterminal_bars_per_s']:,}"
                f" bars/s ({compare['speedup']}x)"
            )
    print(json.dumps({"benchmark": "backtest", "bars": first["bars"], "results": results, "backtrader": compare}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
