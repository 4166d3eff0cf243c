"""Benchmark the market data feed.

1. Messages/s through parse -> normalise -> aggregate, in one process, no network: the real SPY
   trade tape of 2013-10-07 (LEAN, from the team's ``shared/data``) as Alpaca stream v2 frames of
   50 trades, through ``alpaca_data.parse_frame`` and ``MinuteBarBuilder``.
2. End-to-end lag from the replay server to the ledger on loopback: the repo's real LEAN bars
   (3 symbols, 7,018 bars) served over a websocket at ~1,000 messages/s (the first version's peak
   rate) and flat out, through ``FeedService`` (connection, bar stream, ledger sink) into
   PostgreSQL (``QT_BENCH_DATABASE_URL``, default the loopback server) and SQLite. Lag = the time
   the server handed a bar to its socket -> the time the ledger's transaction holding it committed.

Prints a table, then one JSON line.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from quantterminal.adapters.ledger.ledger_sink import LedgerSink
from quantterminal.adapters.market_data import alpaca_data
from quantterminal.adapters.market_data.csv_bars import SAMPLE_ROOT, load_bars
from quantterminal.adapters.market_data.feed_connection import FeedSettings
from quantterminal.adapters.replay.replay_server import ReplayServer
from quantterminal.core.accounting.metrics import percentile
from quantterminal.core.market_data.bar_builder import MinuteBarBuilder
from quantterminal.core.market_data.feed_pipeline import FeedPipeline
from quantterminal.core.models import Bar
from quantterminal.wiring.factories import open_ledger
from quantterminal.wiring.feed import FeedService

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


class NoHistory:
    def minute_bars(self, symbol: str, start: datetime, end: datetime) -> list[Bar]:
        return []


def replay_to_ledger(url: str, bars: list[Bar], speed: float) -> dict[str, float]:
    """Serve ``bars`` at ``speed`` minutes/s through the feed into the ledger at ``url``."""
    ledger = open_ledger(url)
    ledger.migrate()
    committed: dict[tuple[str, datetime], float] = {}

    def on_written(written: list[Bar]) -> None:
        now = time.perf_counter()
        for b in written:
            committed[(b.symbol, b.timestamp)] = now

    sink = LedgerSink(ledger, on_written=on_written)
    with ReplayServer(bars, speed=speed) as server:
        server.sent_times = {}
        symbols = tuple(sorted({b.symbol for b in bars}))
        pipeline = FeedPipeline(NoHistory(), [sink], measure_lag=False)
        service = FeedService(
            FeedSettings(server.url, "replay", "replay", bars=symbols), alpaca_data.PROVIDER, pipeline
        )
        stop = threading.Event()
        started = time.perf_counter()
        runner = threading.Thread(target=service.run, args=(stop,))
        runner.start()
        while len(committed) < len(bars) and time.perf_counter() - started < 300:
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        stop.set()
        runner.join()
        sink.close()
        sent = dict(server.sent_times)
    ledger.close()
    lags = sorted((committed[k] - sent[k]) * 1000 for k in committed if k in sent)
    return {
        "bars": len(lags),
        "msgs_per_s": len(lags) / elapsed,
        "p50_ms": percentile(lags, 0.5),
        "p99_ms": percentile(lags, 0.99),
        "max_ms": lags[-1],
        "batches": sink.worker.stats.batches,
    }


def lag_runs() -> dict[str, dict[str, float]]:
    bars = [b for rows in load_bars(SAMPLE_ROOT / "lean_2013", regular_hours_only=True).values() for b in rows]
    pg_base = os.environ.get("QT_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    schema = f"bench_feed_{uuid.uuid4().hex[:8]}"
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        targets = {"postgresql": f"{pg_base}?schema={schema}", "sqlite": f"sqlite:///{folder}/feed.sqlite3"}
        for name, url in targets.items():
            for label, speed in (("paced", 1000 / 3), ("flat out", 0.0)):
                try:
                    results[f"{name} {label}"] = replay_to_ledger(url, bars, speed)
                except Exception as exc:  # a missing server skips its row, the rest still runs
                    print(f"  {name}: skipped ({type(exc).__name__}: {exc})")
                    break
    try:
        import psycopg2

        with psycopg2.connect(pg_base) as conn, conn.cursor() as cur:
            cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    except Exception:
        pass
    return results


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
    lags = lag_runs()
    print()
    print("replay server -> websocket -> feed -> ledger (real LEAN bars, loopback)")
    print(f"{'ledger / rate':<26}{'bars':>7}{'msgs/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'writes':>8}")
    for name, r in lags.items():
        print(
            f"{name:<26}{r['bars']:>7,.0f}{r['msgs_per_s']:>9,.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
            f"{r['max_ms']:>9.1f}{r['batches']:>8,.0f}"
        )
    print(
        json.dumps(
            {
                "benchmark": "feed",
                "messages": messages,
                "bars": bars,
                "parse_aggregate_msgs_per_s": round(statistics.median(rates)),
                "best_msgs_per_s": round(max(rates)),
                "target_msgs_per_s": 200_000,
                "replay_to_ledger": {k: {m: round(v, 2) for m, v in r.items()} for k, r in lags.items()},
                "target_p50_ms": 10,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
