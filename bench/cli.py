"""Benchmark: how long ``qterm`` takes to answer before doing any work -- ``qterm --help`` and
each command's ``--help`` -- as whole processes (interpreter start included), repeated; median and
range. Prints a table, then one JSON line."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

from quantterminal.cli.commands import COMMANDS as QTERM_COMMANDS

COMMANDS = [["--help"], *([name, "--help"] for name in sorted(QTERM_COMMANDS))]
REPEATS = 5


def seconds(args: list[str]) -> list[float]:
    runs = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "quantterminal.cli.main", *args], capture_output=True, check=True)
        runs.append(time.perf_counter() - started)
    return runs


def main() -> int:
    results = []
    print(f"qterm start-up, {REPEATS} runs each (whole process)")
    print(f"{'command':<28}{'median s':>10}{'min s':>9}{'max s':>9}")
    for args in COMMANDS:
        runs = seconds(args)
        name = "qterm " + " ".join(args)
        results.append({"command": name, "median_s": round(statistics.median(runs), 3), "min_s": round(min(runs), 3),
                        "max_s": round(max(runs), 3)})  # fmt: skip
        print(f"{name:<28}{statistics.median(runs):>10.3f}{min(runs):>9.3f}{max(runs):>9.3f}")
    print(json.dumps({"benchmark": "cli", "results": results, "target": {"every qterm <command> --help": 0.5}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
