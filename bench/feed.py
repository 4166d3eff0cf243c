"""Benchmark: market data messages/s through parse -> normalise -> aggregate, in one process, no
network: the real SPY trade tape of 2013-10-07 (LEAN, from the team's ``shared/data``) as Alpaca
stream v2 frames of 50 trades, through ``alpaca_data.parse_frame`` and ``MinuteBarBuilder``.

(The replay-to-ledger lag figure of issue 5 needs the replay server and feed process, which are
not built yet.) Prints a table, then one JSON line.
"""

from __future__ import annotations

import csv
import gzip
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from quantterminal.adapters import alpaca_data
from quantterminal.core.bar_builder import MinuteBarBuilder

TAPE = Path(__file__).resolve().parents[2] / "shared" / "data" / "lean" / "ticks" / "SPY_trades_2013-10-07.csv.gz"


def frames(batch: int = 50) -> list[str]:
    with gzip.open(TAPE, "rt", newline="") as handle:
        rows = list(csv.DictReader(handle))
    messages = [
        {
            "T": "t",
            "S": "SPY",
            "i": i,
            "x": r["exchange"],
            "p": float(r["price"]),
            "s": int(r["size"]),
            "t": datetime.fromisoformat(r["timestamp"]).astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "c": ["@"],
            "z": "B",
        }
        for i, r in enumerate(rows)
    ]
    return [json.dumps(messages[i : i + batch]) for i in range(0, len(messages), batch)]


def run(data: list[str]) -> tuple[int, int, float]:
    started = time.perf_counter()
    builder = MinuteBarBuilder()
    count = 0
    for frame in data:
        for event in alpaca_data.parse_frame(frame).events:
            builder.add(event)  # type: ignore[arg-type]
            count += 1
    bars = len(builder.flush())
    return count, bars, time.perf_counter() - started


def main() -> int:
    if not TAPE.exists():
        print(f"feed benchmark skipped: {TAPE} not found (the team's shared/data)")
        print(json.dumps({"benchmark": "feed", "skipped": "no tick data"}))
        return 0
    data = frames()
    runs = [run(data) for _ in range(5)]
    messages, bars = runs[0][0], runs[0][1]
    rates = [m / s for m, _, s in runs]
    print(f"feed benchmark - {messages:,} real SPY trades in {len(data):,} Alpaca frames -> {bars} minute bars")
    print(f"{'stage':<34}{'median msgs/s':>15}{'best msgs/s':>14}")
    print(f"{'parse + normalise + aggregate':<34}{statistics.median(rates):>15,.0f}{max(rates):>14,.0f}")
    print(
        json.dumps(
            {
                "benchmark": "feed",
                "messages": messages,
                "bars": bars,
                "parse_aggregate_msgs_per_s": round(statistics.median(rates)),
                "best_msgs_per_s": round(max(rates)),
                "target_msgs_per_s": 200_000,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
