"""Benchmark: the whole process against its peers on the same momentum strategy and bars.

Ours: ``qterm backtest --strategy momentum`` with the breakers off (``--drawdown 1 --daily-loss
1``: the peers have none), through the one kernel with risk, limit orders filled by volume
participation, exact Decimal money. The peers, each in its own environment (they pin their own
dependencies), on the same SMA(10)/SMA(30) rule:

- NautilusTrader (``peers/nautilus_momentum.py``): a Python strategy on its BacktestEngine, long
  10% of cash while fast > slow, flat otherwise, market orders filled on bar execution;
- vectorbt (``peers/vectorbt_momentum.py``): crossover signals, ``Portfolio.from_signals`` with
  10% of cash an entry -- vectorised, as a vectorbt user writes it.

All read the same CSV of real minute bars (``peer_csv``) in a fresh process measured by
``/usr/bin/time``: CPU seconds (user + system), wall seconds, peak RSS; orders beside, since the
order types do not trade alike. Each peer's interpreter is named by an option or variable::

    python3 -m venv /opt/nautilus && /opt/nautilus/bin/pip install nautilus_trader==1.221.0
    python3 -m venv /opt/vectorbt && /opt/vectorbt/bin/pip install vectorbt==1.2.0
    python bench/peers.py --nautilus /opt/nautilus/bin/python --vectorbt /opt/vectorbt/bin/python

(or ``$QT_NAUTILUS_PYTHON`` / ``$QT_VECTORBT_PYTHON``); a peer not installed is skipped, said so.
vectorbt compiles with numba on first use and caches it: one untimed warm-up run comes first.
Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from backtest import data_source, qterm_backtest
from quantterminal.adapters.market_data.csv_bars import load_bars

PEERS = Path(__file__).resolve().parent / "peers"


def peer_csv(rows: int) -> Path:
    """``rows`` real minute rows: the data folder's largest file, repeated whole weeks apart (the
    same weekdays and minutes), written once to the temporary folder as ``{symbol}_peers_{rows}.csv``.
    One file, not the folder: its copies stay within the years pandas can stamp (to 2262)."""
    source = max(data_source().glob("*.csv"), key=lambda f: f.stat().st_size) if data_source().is_dir() else None
    loaded = load_bars(source if source is not None else data_source())
    symbol, bars = max(loaded.items(), key=lambda item: len(item[1]))
    path = Path(tempfile.gettempdir()) / f"{symbol}_peers_{rows}.csv"
    if path.exists():
        return path
    span = timedelta(weeks=(bars[-1].timestamp - bars[0].timestamp) // timedelta(weeks=1) + 1)
    with path.open("w", encoding="utf-8") as out:
        out.write("timestamp,open,high,low,close,volume\n")
        written, copy = 0, 0
        while written < rows:
            for b in bars[: rows - written]:
                out.write(f"{(b.timestamp + span * copy).isoformat()},{b.open},{b.high},{b.low},{b.close},{b.volume}\n")
            written += min(len(bars), rows - written)
            copy += 1
    return path


def timed(command: list[str]) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds and peak RSS (MB) of ``command`` as a child, and what it printed."""
    done = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", *command], check=True, capture_output=True, text=True)
    wall, user, system, peak_kb = done.stderr.strip().splitlines()[-1].split()
    return float(wall), float(user) + float(system), int(peak_kb) / 1024, done.stdout


def ours(path: Path) -> tuple[float, float, float, int]:
    wall, cpu, rss, printed = timed(qterm_backtest(path, breakers=False))
    found = re.search(r"orders placed\s*.\s*([\d,]+)", printed)
    return wall, cpu, rss, int(found.group(1).replace(",", "")) if found else 0


def peer(python: str, script: str, path: Path) -> tuple[float, float, float, int]:
    symbol = path.name.split("_", 1)[0]
    wall, cpu, rss, printed = timed([python, str(PEERS / script), str(path), symbol])
    return wall, cpu, rss, int(json.loads(printed.strip().splitlines()[-1])["orders"])


def figure(runs: list[tuple[float, float, float, int]]) -> dict[str, Any]:
    cpus = [r[1] for r in runs]
    return {
        "wall_s": round(statistics.median(r[0] for r in runs), 2),
        "cpu_s": round(statistics.median(cpus), 2),
        "cpu_range_s": [round(min(cpus), 2), round(max(cpus), 2)],
        "peak_rss_mb": round(statistics.median(r[2] for r in runs)),
        "orders": runs[-1][3],
    }


def installed(python: str | None, module: str) -> str | None:
    """The peer's version, if ``python`` has it."""
    if not python:
        return None
    done = subprocess.run(
        [python, "-c", f"import {module}; print({module}.__version__)"], check=False, capture_output=True, text=True
    )
    return done.stdout.strip() if done.returncode == 0 else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nautilus", default=os.environ.get("QT_NAUTILUS_PYTHON"), help="NautilusTrader's python")
    parser.add_argument("--vectorbt", default=os.environ.get("QT_VECTORBT_PYTHON"), help="vectorbt's python")
    parser.add_argument("--rows", type=int, nargs="+", default=[400_000, 2_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    peers = {
        name: (python, script, version)
        for name, python, module, script in (
            ("nautilus", args.nautilus, "nautilus_trader", "nautilus_momentum.py"),
            ("vectorbt", args.vectorbt, "vectorbt", "vectorbt_momentum.py"),
        )
        if (version := installed(python, module)) is not None
    }
    skipped = sorted({"nautilus", "vectorbt"} - set(peers))
    for name in skipped:
        print(f"{name} is not installed: see this file's docs")
    results = []
    for rows in args.rows:
        path = peer_csv(rows)
        row: dict[str, Any] = {"rows": rows, "ours": figure([ours(path) for _ in range(args.repeat)])}
        for name, (python, script, _) in peers.items():
            if name == "vectorbt":
                peer(python, script, path)  # numba compiles on first use and caches: warm it
            row[name] = figure([peer(python, script, path) for _ in range(args.repeat)])
            row[f"{name}_cpu_ratio"] = round(row[name]["cpu_s"] / row["ours"]["cpu_s"], 2)
        results.append(row)
    versions = ", ".join(f"{name} {version}" for name, (_, _, version) in peers.items())
    print(f"whole process, momentum on one symbol's real minute bars; {versions or 'no peer installed'}")
    print(f"{'rows':>10}  {'':<10}{'CPU s':>8}{'range':>14}{'wall s':>8}{'RSS MB':>8}{'orders':>9}{'CPU vs ours':>13}")
    for r in results:
        for who in ("ours", *peers):
            f = r[who]
            span = f"{f['cpu_range_s'][0]:.1f}-{f['cpu_range_s'][1]:.1f}"
            ratio = "" if who == "ours" else f"{r[f'{who}_cpu_ratio']:.2f}x"
            rows = f"{r['rows']:>10,}  {who:<10}"
            print(
                f"{rows}{f['cpu_s']:>8.2f}{span:>14}{f['wall_s']:>8.2f}{f['peak_rss_mb']:>8}{f['orders']:>9,}{ratio:>13}"
            )
    versions_json = {name: version for name, (_, _, version) in peers.items()}
    print(
        json.dumps(
            {
                "benchmark": "peers",
                "versions": versions_json,
                "skipped": skipped,
                "repeat": args.repeat,
                "results": results,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
