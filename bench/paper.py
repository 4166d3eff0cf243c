"""Benchmark: the whole local paper run -- replay server, websocket feed, bar pipeline, bus, the
one kernel with risk, simulated broker, SQLite ledger -- as a user runs it: ``qterm paper
--speed 0 --no-api`` on the shipped real data (lean_2013: SPY, IBM, BAC; or ``--replay``).

Figures: the run's own "N bars in S s" (first bar taken to last bar decided: no wait for the feed
to connect, no idle wait at the end), and the whole process's wall and CPU seconds and peak RSS.
Each is the median of ``--repeat`` runs (range shown). Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SUMMARY = re.compile(r"Paper run -- ([\d,]+) bars in ([\d.,]+) s \(([\d,]+) bars/s")


def one_run(replay: str, strategies: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        database = f"sqlite:///{Path(folder) / 'ledger.db'}"
        started = time.perf_counter()
        done = subprocess.run(
            ["/usr/bin/time", "-f", "%M %U %S", sys.executable, "-m", "quantterminal.cli.main", "paper", "--speed",
             "0", "--no-api", "--replay", replay, "--strategies", strategies, "--database", database,
             "--idle-exit", "1"],
            capture_output=True, text=True, check=False, timeout=1800,
        )  # fmt: skip
        wall = time.perf_counter() - started
    peak_kb, user, system = done.stderr.strip().splitlines()[-1].split()  # /usr/bin/time: this child alone
    found = SUMMARY.search(" ".join(done.stdout.split()))
    if found is None:
        raise SystemExit(f"qterm paper gave no summary (exit {done.returncode}): {done.stderr[-2000:]}")
    bars, seconds = int(found.group(1).replace(",", "")), float(found.group(2).replace(",", ""))
    return {
        "bars": bars,
        "busy_s": seconds,
        "bars_per_s": int(found.group(3).replace(",", "")),  # the run's own: its seconds are shown rounded
        "wall_s": wall,
        "cpu_s": float(user) + float(system),
        "rss_mb": int(peak_kb) / 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replay", default="sample:lean_2013", help="data to replay (default sample:lean_2013)")
    parser.add_argument("--strategies", default="momentum,mean_reversion,volatility_breakout")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = [one_run(args.replay, args.strategies) for _ in range(args.repeat)]

    def figure(key: str) -> dict[str, Any]:
        values = [r[key] for r in runs]
        return {"median": round(statistics.median(values), 2), "range": [round(min(values), 2), round(max(values), 2)]}

    figures = {k: figure(k) for k in ("bars_per_s", "busy_s", "wall_s", "cpu_s", "rss_mb")}
    print(f"qterm paper --speed 0 --no-api, {args.replay}, {args.strategies}; median of {args.repeat}")
    print(f"{'figure':<14}{'median':>12}{'range':>24}")
    for key, value in figures.items():
        low, high = value["range"]
        print(f"{key:<14}{value['median']:>12,.2f}{f'{low:,.2f}-{high:,.2f}':>24}")
    print(f"bars decided per run: {int(runs[0]['bars']):,}; target: >= 5,000 bars/s")
    print(json.dumps({"benchmark": "paper", "bars": runs[0]["bars"], **figures, "target_bars_per_s": 5000}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
