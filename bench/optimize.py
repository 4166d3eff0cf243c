"""Benchmark: ``qterm optimize`` trials/s with 1 and 2 worker processes sharing one study in
PostgreSQL (``QT_BENCH_DATABASE_URL``, default postgresql://postgres@127.0.0.1:5432/test), and with
one worker on a SQLite file for reference.

What a user runs: the whole search (workers starting, every trial a backtest of the momentum
instance through the kernel on 10 sessions of real SPY minute bars from the repo, 2011), two
walk-forward windows, the out-of-sample runs after. Each configuration runs 3 times with a fresh
study; the median and the range are reported. Prints a table, then one JSON line of figures.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

from quantterminal.config.load import from_text
from quantterminal.wiring.optimize import optimize

POSTGRES = os.environ.get("QT_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
TRIALS = 24  # per window
CONFIG = f"""
[[strategies]]
name = "momentum"
strategy = "momentum"

[data]
symbols = ["SPY"]
backtest = "sample:spy_2011"

[optimize]
strategy = "momentum"
min_trades = 2
trials = {TRIALS}
seed = 3

[optimize.space]
fast = {{ low = 3, high = 20 }}
slow = {{ low = 20, high = 90, step = 5 }}

[optimize.walk_forward]
in_sample = 10
out_of_sample = 5
windows = 2
"""


def run(storage: str, workers: int) -> float:
    loaded = from_text(CONFIG, "bench", Path.cwd())
    report = optimize(loaded, "sample:spy_2011", storage, f"bench-{uuid.uuid4().hex[:8]}", workers)
    return report.trial_count / report.seconds


def main() -> int:
    rows = []
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        setups = [
            ("postgresql, 1 worker", POSTGRES, 1),
            ("postgresql, 2 workers", POSTGRES, 2),
            ("sqlite, 1 worker", f"sqlite:///{Path(tmp) / 'study.sqlite3'}", 1),
        ]
        for label, storage, workers in setups:
            rates = [run(storage, workers) for _ in range(3)]
            median = statistics.median(rates)
            rows.append((label, median, min(rates), max(rates)))
            key = label.replace(", ", "_").replace(" ", "_")
            figures[f"{key}_trials_per_s"] = round(median, 2)
            figures[f"{key}_range"] = [round(min(rates), 2), round(max(rates), 2)]
    print(f"{'setup':<24} {'trials/s (median)':>18} {'range':>16}")
    for label, median, low, high in rows:
        print(f"{label:<24} {median:>18.2f} {low:>7.2f}-{high:<8.2f}")
    figures["cpus"] = os.cpu_count()
    figures["trials_per_window"] = TRIALS
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
