"""Benchmark: the backtest through the one trading kernel (risk manager included) -- bars/s and
peak memory -- and the whole ``qterm backtest`` process.

- engine: each strategy on ONE symbol of >= 400,000 real minute bars (the team's QQQ file from
  ``shared/data/intraday_1min`` when present -- benchmarks may read those unlicensed sets, never
  ship them -- else the repo's sample SPY), the series repeated whole weeks apart; and the first
  strategy again with a 15 bps stop-loss and a 30 bps take-profit on every entry (``[orders]
  stop_loss_bps / take_profit_bps``), and with a 40 bps trailing stop and a 120-minute longest hold
  (``trailing_stop_bps``, ``max_holding_minutes``): what working exits bar by bar costs;
- many symbols: each strategy over >= 1,000,000 bars, the real files repeated under synthetic
  symbol names (SPY, SPY~1, ...), each symbol an equal slice of equity;
- whole process: ``qterm backtest`` on a 2,000,000-row CSV (loading included), breakers on and
  off, trades beside: wall, CPU seconds (``/usr/bin/time``, the child alone)
  and peak RSS of the child process;
- peer: with backtrader installed (``pip install -e '.[bench]'``), the same SMA(10)/SMA(30)
  crossover on one real symbol -- speed, and whether the trades are the same (market orders, no
  costs, fills ignoring volume).

Each figure is the median of ``--repeat`` runs in a fresh process (range shown). Prints a table,
then one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from quantterminal.adapters.market_data.csv_bars import SAMPLE_ROOT, load_bars
from quantterminal.core.accounting.orders import OrderType
from quantterminal.core.models import Bar
from quantterminal.core.risk.manager import RiskLimits
from quantterminal.core.simulation.backtest import BacktestConfig
from quantterminal.core.simulation.fill_model import FillModel
from quantterminal.core.strategies import STRATEGIES
from quantterminal.core.trading.config import TradingConfig
from quantterminal.wiring.backtest import backtester

TEAM_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "intraday_1min"


def data_source() -> Path:
    return TEAM_DATA if TEAM_DATA.is_dir() else SAMPLE_ROOT / "spy_2011"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def one_symbol(min_bars: int) -> tuple[str, list[Bar]]:
    """One real symbol's minute bars, repeated whole weeks apart (same weekdays) up to ``min_bars``."""
    real = load_bars(data_source())
    symbol = max(real, key=lambda s: len(real[s]))
    bars = real[symbol]
    span = timedelta(weeks=(bars[-1].timestamp - bars[0].timestamp) // timedelta(weeks=1) + 1)
    series: list[Bar] = []
    copy = 0
    while len(series) < min_bars:
        shift = span * copy  # whole weeks: the same weekdays
        series += [Bar(symbol, b.timestamp + shift, b.open, b.high, b.low, b.close, b.volume) for b in bars]
        copy += 1
    return symbol, series


def timed_runs(config: BacktestConfig, bars: dict[str, list[Bar]], repeat: int) -> tuple[list[float], Any]:
    """``repeat`` timed runs of a fresh backtester (seconds each) and the last result."""
    times, result = [], None
    for _ in range(repeat):
        runner = backtester(config)
        started = time.perf_counter()
        result = runner.run(bars)
        times.append(time.perf_counter() - started)
    return times, result


EXITS = {  # the "+ exits" rows
    "exit legs": TradingConfig(stop_loss_bps=Decimal(15), take_profit_bps=Decimal(30)),
    "trailing stop, longest hold": TradingConfig(trailing_stop_bps=Decimal(40), max_holding_minutes=120),
}


def _run_engine(name: str, min_bars: int, repeat: int, queue: Any, exits: str = "") -> None:
    symbol, bars = one_symbol(min_bars)
    config = BacktestConfig((name,), trading=EXITS[exits]) if exits else BacktestConfig((name,))
    times, result = timed_runs(config, {symbol: bars}, repeat)
    median = statistics.median(times)
    queue.put(
        {
            "strategy": f"{name} + {exits}" if exits else name,
            "symbol": symbol,
            "bars": len(bars),
            "bars_per_s": round(len(bars) / median),
            "range_bars_per_s": [round(len(bars) / max(times)), round(len(bars) / min(times))],
            "orders": len(result.orders),
            "refused": len(result.refused),
            "peak_rss_mb": round(peak_rss_mb(), 1),
        }
    )


def _engine_with_exit_legs(name: str, min_bars: int, repeat: int, queue: Any) -> None:
    _run_engine(name, min_bars, repeat, queue, exits="exit legs")


def _engine_with_trailing_stop(name: str, min_bars: int, repeat: int, queue: Any) -> None:
    _run_engine(name, min_bars, repeat, queue, exits="trailing stop, longest hold")


def _summary_figure(text: str, label: str) -> str:
    """One row of ``qterm backtest``'s summary table (``trades``, ``trading halted``)."""
    found = re.search(rf"^.{{0,3}}{re.escape(label)}\s*.\s*(.*?)\s*.$", text, re.MULTILINE)
    return found.group(1).strip() if found else ""


def bench_csv(rows: int) -> Path:
    """A CSV of ``rows`` real minute rows of one symbol (``one_symbol``), written once to the
    temporary folder (named ``{symbol}_1min_bench_{rows}.csv``, so its symbol reads from the name)."""
    symbol, bars = one_symbol(rows)
    path = Path(tempfile.gettempdir()) / f"{symbol}_1min_bench_{rows}.csv"
    if not path.exists():
        with path.open("w", encoding="utf-8") as out:
            out.write("timestamp,open,high,low,close,volume\n")
            for b in bars[:rows]:
                out.write(f"{b.timestamp.isoformat()},{b.open},{b.high},{b.low},{b.close},{b.volume}\n")
    return path


def qterm_backtest(path: Path, breakers: bool) -> list[str]:
    """The ``qterm backtest --strategy momentum`` command on ``path``, breakers on or off."""
    command = [
        sys.executable,
        "-m",
        "quantterminal.cli.main",
        "backtest",
        "--strategy",
        "momentum",
        "--data",
        str(path),
    ]
    return command if breakers else [*command, "--drawdown", "1", "--daily-loss", "1"]


def whole_process(rows: int, repeat: int, breakers: bool) -> dict[str, Any]:
    """``qterm backtest --strategy momentum`` on a CSV of ``rows`` real rows (repeated whole weeks
    apart), as a child process: wall and CPU seconds, peak RSS, and the trades it made. With
    ``breakers=False`` the drawdown breaker and the daily-loss halt are off (``--drawdown 1
    --daily-loss 1``), so every bar can trade: the breaker trips early on this data and a run
    that stops trading flatters the figure."""
    command = qterm_backtest(bench_csv(rows), breakers)
    walls, cpus, rss = [], [], []
    printed = ""
    for _ in range(repeat):
        # /usr/bin/time measures this one child: the bench's own RUSAGE_CHILDREN peak is the
        # largest child so far, whatever it was
        started = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", *command], check=True, capture_output=True, text=True)
        walls.append(time.perf_counter() - started)
        printed = done.stdout
        peak_kb, user, system = done.stderr.strip().splitlines()[-1].split()
        cpus.append(float(user) + float(system))
        rss.append(int(peak_kb) / 1024)
    return {
        "rows": rows,
        "breakers": breakers,
        "trades": int(_summary_figure(printed, "trades").replace(",", "") or 0),
        "halted": _summary_figure(printed, "trading halted") not in ("", "-"),
        "wall_s": round(statistics.median(walls), 2),
        "cpu_s": round(statistics.median(cpus), 2),
        "cpu_range_s": [round(min(cpus), 2), round(max(cpus), 2)],
        "peak_rss_mb": round(statistics.median(rss)),
        "rows_per_cpu_s": round(rows / statistics.median(cpus)),
    }


def _many_symbols(strategy: str, repeat: int, queue: Any) -> None:
    """100 symbols x 4,000 bars against one symbol x 400,000, the same real bars, default sizing
    (10% of equity a position: most symbols' entries are refused for buying power)."""
    symbol, series = one_symbol(400_000)
    series = series[:400_000]
    many: dict[str, list[Bar]] = {}
    for i in range(100):
        name = f"{symbol}~{i}"
        chunk = series[i * 4_000 : (i + 1) * 4_000]
        # every symbol on the first 4,000 minutes: 100 bars a minute, as a 100-symbol universe trades
        many[name] = [
            Bar(name, series[j].timestamp, b.open, b.high, b.low, b.close, b.volume) for j, b in enumerate(chunk)
        ]
    config = BacktestConfig((strategy,))
    one_times, one = timed_runs(config, {symbol: series}, repeat)
    many_times, wide = timed_runs(config, many, repeat)
    queue.put(
        {
            "strategy": strategy,
            "one_symbol_s": round(statistics.median(one_times), 3),
            "many_symbols_s": round(statistics.median(many_times), 3),
            "ratio": round(statistics.median(many_times) / statistics.median(one_times), 2),
            "ratio_range": [round(min(many_times) / max(one_times), 2), round(max(many_times) / min(one_times), 2)],
            "orders": [len(one.orders), len(wide.orders)],
            "refused": [len(one.refused), len(wide.refused)],
        }
    )


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
    trading = TradingConfig(position_fraction=share, risk=RiskLimits(position_limit=share))
    config = BacktestConfig((name,), trading=trading)
    times, result = timed_runs(config, bars, repeat)
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
    real = load_bars(data_source(), regular_hours_only=True)
    symbol = "QQQ" if "QQQ" in real else max(real, key=lambda s: len(real[s]))  # contiguous, few SMA ties
    bars = real[symbol][:bars_count]
    bt_trades: list[tuple[Any, ...]] = []

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

        def notify_order(self, order: Any) -> None:
            if order.status == order.Completed:
                side = "buy" if order.isbuy() else "sell"
                when = bt.num2date(order.executed.dt).replace(tzinfo=UTC)
                bt_trades.append((when, side, abs(int(order.executed.size)), round(order.executed.price, 4)))

    def run_backtrader() -> None:
        cerebro = bt.Cerebro(stdstats=False)  # no observers: the leanest backtrader run
        cerebro.broker.setcash(100_000)
        cerebro.adddata(ListFeed(bars=bars))
        cerebro.addstrategy(SmaCross)
        cerebro.run()

    # The peer's rules: market orders at the next open, no costs, fills whatever the volume.
    # backtrader also orders at the session's last close (filled at the next open) and holds
    # across holes: no market-hours rule, no gap exits.
    peer_rules = BacktestConfig(
        ("momentum",),
        trading=TradingConfig(type=OrderType.MARKET, risk=RiskLimits(regular_hours_only=False)),
        fills=FillModel(participation=None),
        max_gap_sessions=None,
    )
    ours: list[Any] = []

    def run_ours() -> None:
        ours[:] = backtester(peer_rules).run({symbol: bars}).fills

    bt_seconds = median_seconds(run_backtrader, repeat)
    our_seconds = median_seconds(run_ours, repeat)
    mine = [(f.timestamp.replace(microsecond=0), f.side.value, f.qty, round(float(f.price), 4)) for f in ours]
    theirs = bt_trades[-len(mine) :] if mine else []  # the last run's fills (each run appends)
    queue.put(
        {
            "bars": len(bars),
            "symbol": symbol,
            "backtrader_bars_per_s": round(len(bars) / bt_seconds),
            "quantterminal_bars_per_s": round(len(bars) / our_seconds),
            "speedup": round(bt_seconds / our_seconds, 1),
            "fills": len(mine),
            "backtrader_fills": len(theirs),
            # a crossover where SMA(10) == SMA(30) exactly is decided by float rounding, which
            # differs between the two SMA implementations: such fills come one bar apart
            "fills_differing": sum(1 for a, b in zip(mine, theirs, strict=False) if a != b)
            + abs(len(mine) - len(theirs)),
        }
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000, help="at least this many bars (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per strategy (median reported)")
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=list(STRATEGIES))
    parser.add_argument("--backtrader-bars", type=int, default=100_000, help="bars for the backtrader comparison")
    parser.add_argument("--no-backtrader", action="store_true")
    parser.add_argument("--engine-bars", type=int, default=400_000, help="bars of the one-symbol engine runs")
    parser.add_argument("--process-rows", type=int, default=2_000_000, help="rows of the whole-process run (0: skip)")
    parser.add_argument(
        "--no-many-symbols", dest="many_symbols", action="store_false", help="skip 100 x 4k vs 1 x 400k"
    )
    args = parser.parse_args()

    engine = [run_isolated(_run_engine, name, args.engine_bars, args.repeat) for name in args.strategies]
    # the cost of a stop-loss and take-profit on every entry (15 / 30 bps), worked bar by bar
    engine.append(run_isolated(_engine_with_exit_legs, args.strategies[0], args.engine_bars, args.repeat))
    engine.append(run_isolated(_engine_with_trailing_stop, args.strategies[0], args.engine_bars, args.repeat))
    print(f"engine: one symbol through the kernel (risk included), median of {args.repeat}")
    print(f"{'strategy':<26}{'bars':>10}{'bars/s':>10}{'range':>20}{'orders':>9}{'refused':>9}{'RSS MB':>8}")
    for r in engine:
        low, high = r["range_bars_per_s"]
        print(
            f"{r['strategy']:<26}{r['bars']:>10,}{r['bars_per_s']:>10,}{f'{low:,}-{high:,}':>20}"
            f"{r['orders']:>9,}{r['refused']:>9,}{r['peak_rss_mb']:>8,.0f}"
        )
    process = []
    if args.process_rows:
        process = [whole_process(args.process_rows, args.repeat, breakers) for breakers in (True, False)]
        print(
            f"whole process: qterm backtest --strategy momentum on {args.process_rows:,} rows, median of {args.repeat}"
        )
        print(f"{'breakers':<10}{'trades':>8}{'halted':>8}{'wall s':>8}{'CPU s':>8}{'CPU range':>16}{'RSS MB':>8}")
        for r in process:
            low, high = r["cpu_range_s"]
            print(
                f"{'on' if r['breakers'] else 'off':<10}{r['trades']:>8,}{'yes' if r['halted'] else 'no':>8}"
                f"{r['wall_s']:>8}{r['cpu_s']:>8}{f'{low}-{high}':>16}{r['peak_rss_mb']:>8,}"
            )
    many = [run_isolated(_many_symbols, name, args.repeat) for name in args.strategies] if args.many_symbols else []
    if many:
        print(f"100 symbols x 4,000 bars against 1 x 400,000 (default sizing; target <= 1.3x), median of {args.repeat}")
        print(f"{'strategy':<22}{'1 x 400k s':>12}{'100 x 4k s':>12}{'ratio':>7}{'range':>13}{'refused 1 / 100':>18}")
        for r in many:
            lo, hi = r["ratio_range"]
            refused = "{:,} / {:,}".format(*r["refused"])
            print(
                f"{r['strategy']:<22}{r['one_symbol_s']:>12}{r['many_symbols_s']:>12}{r['ratio']:>7}"
                f"{f'{lo}-{hi}':>13}{refused:>18}"
            )

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
                f" bars/s ({compare['speedup']}x); fills {compare['fills']} vs {compare['backtrader_fills']}, "
                f"{compare['fills_differing']} differing (SMA ties)"
            )
    figures = {"benchmark": "backtest", "engine": engine, "whole_process": process, "many_symbols": many}
    print(json.dumps({**figures, "bars": first["bars"], "results": results, "backtrader": compare}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
