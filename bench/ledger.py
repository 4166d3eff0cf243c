"""Benchmark: ledger ingest (rows/s) into PostgreSQL by COPY vs multi-row INSERT, SQLite for
reference, and state-store compare-and-set updates/s on Redis (one writer and four processes).

Data: real minute bars (the team's ``shared/data/intraday_1min`` when present, else the repo's
sample set) and the real SPY trade tape of 2013-10-07 from LEAN (``shared/data/lean/ticks``; it
has no provider trade ids, so prints are numbered in file order). Each PostgreSQL run uses a fresh
schema with its partitions created first, so the figures are steady-state ingest, then dropped.
Servers: ``QT_BENCH_DATABASE_URL`` (default postgresql://postgres@127.0.0.1:5432/test) and
``QT_BENCH_REDIS_URL`` (default redis://127.0.0.1:6379/15).

Prints a table, then one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg2

from quantterminal.adapters.ledger.postgres_ledger import PostgresLedger
from quantterminal.adapters.ledger.sqlite_ledger import SqliteLedger
from quantterminal.adapters.market_data.csv_bars import SAMPLE_ROOT, load_bars
from quantterminal.adapters.state.redis_state import RedisStateStore
from quantterminal.adapters.state.state_base import ConcurrencyError
from quantterminal.core.models import Bar, Side, Trade

TEAM_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
POSTGRES_URL = os.environ.get("QT_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("QT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
NOW = datetime(2026, 1, 2, 15, 0, tzinfo=UTC)


def real_bars() -> list[Bar]:
    folder = TEAM_DATA / "intraday_1min"
    bars = load_bars(folder if folder.is_dir() else SAMPLE_ROOT / "spy_2011")
    return [b for series in bars.values() for b in series]


def real_ticks(limit: int) -> list[Trade]:
    path = TEAM_DATA / "lean" / "ticks" / "SPY_trades_2013-10-07.csv.gz"
    if not path.exists():
        return []
    trades = []
    with gzip.open(path, "rt", newline="") as handle:
        for i, row in enumerate(csv.DictReader(handle)):
            if i >= limit:
                break
            ts = datetime.fromisoformat(row["timestamp"]).astimezone(UTC)
            conditions = (row["condition"],) if row["condition"] not in ("", "0") else ()
            trades.append(Trade("SPY", ts, float(row["price"]), int(row["size"]), str(i), row["exchange"], conditions))
    return trades


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _pg_ingest_once(kind: str, rows: list[Any], method: str) -> tuple[float, float]:
    """rows/s of a first ingest (new rows) and of a re-ingest (all unchanged), in a fresh schema."""
    schema = f"qt_bench_{uuid.uuid4().hex[:10]}"
    ledger = PostgresLedger(POSTGRES_URL, schema=schema)
    try:
        ledger.migrate()
        low = min(r.timestamp for r in rows)
        high = max(r.timestamp for r in rows)
        table = "bars" if kind == "bars" else "ticks"
        ledger._transaction(lambda cur: ledger._ensure_partitions(cur, low, high, (table,)), "partitions")
        ingest = ledger.ingest_bars if kind == "bars" else ledger.ingest_ticks
        first = len(rows) / timed(lambda: ingest(rows, method=method))  # type: ignore[arg-type]
        again = len(rows) / timed(lambda: ingest(rows, method=method))  # type: ignore[arg-type]
        return first, again
    finally:
        ledger.close()
        conn = psycopg2.connect(POSTGRES_URL)
        conn.autocommit = True
        conn.cursor().execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.close()


def pg_ingest(kind: str, rows: list[Any], method: str, repeat: int) -> dict[str, Any]:
    """Median figures of ``repeat`` runs."""
    runs = [_pg_ingest_once(kind, rows, method) for _ in range(repeat)]
    return {
        "table": kind,
        "store": "postgresql",
        "method": method,
        "rows": len(rows),
        "new_rows_per_s": round(statistics.median(r[0] for r in runs)),
        "reingest_rows_per_s": round(statistics.median(r[1] for r in runs)),
    }


def sqlite_ingest(kind: str, rows: list[Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        ledger = SqliteLedger(Path(folder) / "bench.sqlite3")
        ledger.migrate()
        ingest = ledger.ingest_bars if kind == "bars" else ledger.ingest_ticks
        first = len(rows) / timed(lambda: ingest(rows))  # type: ignore[operator]
        again = len(rows) / timed(lambda: ingest(rows))  # type: ignore[operator]
        ledger.close()
    return {
        "table": kind,
        "store": "sqlite",
        "method": "executemany",
        "rows": len(rows),
        "new_rows_per_s": round(first),
        "reingest_rows_per_s": round(again),
    }


def _cas_worker(prefix: str, updates: int, queue: Any) -> None:
    store = RedisStateStore(REDIS_URL, prefix=prefix)
    started = time.perf_counter()
    gave_up = 0
    try:
        for _ in range(updates):
            try:
                store.update_position(
                    "bench", "momentum", "SPY", lambda p: p.apply_fill(Side.BUY, 1, Decimal("100.01"), NOW)
                )
            except ConcurrencyError:
                gave_up += 1
    finally:  # always report, or the parent would wait for ever
        queue.put((time.perf_counter() - started, gave_up))
        store.close()


def redis_cas(updates: int, writers: int) -> dict[str, Any]:
    prefix = f"qtbench{uuid.uuid4().hex[:8]}"
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_cas_worker, args=(prefix, updates, queue)) for _ in range(writers)]
    started = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    wall = time.perf_counter() - started
    reports = [queue.get(timeout=600) for _ in procs]
    per_writer = [seconds for seconds, _ in reports]
    gave_up = sum(n for _, n in reports)
    store = RedisStateStore(REDIS_URL, prefix=prefix)
    final = store.get_position("bench", "momentum", "SPY")
    keys = list(store.client.scan_iter(f"{prefix}:*"))
    if keys:
        store.client.delete(*keys)
    store.close()
    total = updates * writers
    return {
        "writers": writers,
        "updates": total,
        "gave_up": gave_up,
        "lost_updates": total - gave_up - final.qty,
        "updates_per_s": round(total / max(per_writer)),
        "wall_s_incl_process_start": round(wall, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="PostgreSQL runs per figure (median reported)")
    parser.add_argument("--ticks", type=int, default=250_000, help="ticks to ingest (default 250,000)")
    parser.add_argument("--cas-updates", type=int, default=2_000, help="CAS updates per writer")
    args = parser.parse_args()

    bars = real_bars()
    ticks = real_ticks(args.ticks)
    ingest = [pg_ingest("bars", bars, "copy", args.repeat), pg_ingest("bars", bars, "insert", args.repeat)]
    if ticks:
        ingest += [pg_ingest("ticks", ticks, "copy", args.repeat), pg_ingest("ticks", ticks, "insert", args.repeat)]
    ingest.append(sqlite_ingest("bars", bars))
    if ticks:
        ingest.append(sqlite_ingest("ticks", ticks))
    cas = [redis_cas(args.cas_updates, 1), redis_cas(args.cas_updates, 4)]

    print(
        f"ledger benchmark - {len(bars):,} real minute bars, {len(ticks):,} real SPY trades; "
        f"PostgreSQL median of {args.repeat}"
    )
    print(f"{'table':<7}{'store':<12}{'method':<13}{'rows':>9}{'new rows/s':>13}{'re-ingest rows/s':>18}")
    for r in ingest:
        print(
            f"{r['table']:<7}{r['store']:<12}{r['method']:<13}{r['rows']:>9,}{r['new_rows_per_s']:>13,}"
            f"{r['reingest_rows_per_s']:>18,}"
        )
    print(f"{'Redis CAS writers':<20}{'updates':>9}{'updates/s':>12}{'gave up':>9}{'lost':>7}")
    for c in cas:
        print(f"{c['writers']:<20}{c['updates']:>9,}{c['updates_per_s']:>12,}{c['gave_up']:>9}{c['lost_updates']:>7}")
    print(json.dumps({"benchmark": "ledger", "ingest": ingest, "redis_cas": cas}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
