"""Benchmark: bar -> order decision latency of the live path (``TradingEngine.on_bar``): restore the
strategy from the state store, decide, save it, size, risk-check with an atomic reservation, record
the open order, submit to the simulated broker.

Runs over real SPY minute bars (the team's ``shared/data`` set when present, else the repo's
sample) with the in-memory store and with real Redis on loopback (``QT_BENCH_REDIS_URL``, default
redis://127.0.0.1:6379/15). Latency is per bar, wall clock; the broker's fills and updates happen
between bars and are not timed. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from quantterminal.adapters.csv_bars import SAMPLE_ROOT, load_bars
from quantterminal.adapters.memory_state import MemoryStateStore
from quantterminal.adapters.redis_state import RedisStateStore
from quantterminal.adapters.simulated_broker import SimulatedBroker, SimulatorConfig
from quantterminal.core.metrics import percentile
from quantterminal.core.models import Bar
from quantterminal.core.money import to_decimal
from quantterminal.core.risk import AccountView, RiskLimits
from quantterminal.core.risk_gate import RiskGate
from quantterminal.core.trading import TradingEngine

TEAM_FILE = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "intraday_1min" / "SPY_1min_2026-01-22_2026-03-06_rth.csv"
)
REDIS_URL = os.environ.get("QT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")


def spy_bars(limit: int) -> list[Bar]:
    source = TEAM_FILE if TEAM_FILE.exists() else SAMPLE_ROOT / "spy_2011"
    bars = load_bars(source, regular_hours_only=True)["SPY"]
    return bars[:limit]


def run(store_kind: str, bars: list[Bar]) -> dict[str, Any]:
    prefix = f"qtbench{uuid.uuid4().hex[:8]}"
    store = RedisStateStore(REDIS_URL, prefix=prefix) if store_kind == "redis" else MemoryStateStore(prefix=prefix)
    broker = SimulatedBroker(SimulatorConfig(participation=0.5))
    engine = TradingEngine("momentum", "bench", store, broker, RiskGate(store, "bench", RiskLimits()))
    broker.on_update(engine.on_update)
    all_ms, order_ms = [], []
    try:
        for bar in bars:
            broker.on_bar(bar)
            account = broker.account()
            view = AccountView(
                account.equity,
                account.cash,
                {p.symbol: p.qty for p in broker.positions()},
                {bar.symbol: to_decimal(bar.close)},
            )
            started = time.perf_counter()
            decision = engine.on_bar(bar, view, bar.timestamp + timedelta(minutes=1))
            elapsed = (time.perf_counter() - started) * 1000
            all_ms.append(elapsed)
            if decision.placed is not None:
                order_ms.append(elapsed)
    finally:
        if isinstance(store, RedisStateStore):
            keys = list(store.client.scan_iter(f"{prefix}:*"))
            if keys:
                store.client.delete(*keys)
            store.close()
    return {
        "store": store_kind,
        "bars": len(bars),
        "orders": len(order_ms),
        "p50_ms": round(statistics.median(all_ms), 3),
        "p99_ms": round(percentile(sorted(all_ms), 0.99), 3),
        "order_p50_ms": round(statistics.median(order_ms), 3) if order_ms else None,
        "order_p99_ms": round(percentile(sorted(order_ms), 0.99), 3) if order_ms else None,
        "max_ms": round(max(all_ms), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=3_900, help="bars to decide on (default 3,900: ten sessions)")
    args = parser.parse_args()
    bars = spy_bars(args.bars)
    results = [run("memory", bars), run("redis", bars)]
    print(f"decision latency - bar -> order, momentum on {len(bars):,} real SPY minute bars, simulated broker")
    print(
        f"{'store':<8}{'bars':>7}{'orders':>8}{'p50 ms':>9}{'p99 ms':>9}{'order p50':>11}{'order p99':>11}{'max ms':>9}"
    )
    for r in results:
        print(
            f"{r['store']:<8}{r['bars']:>7,}{r['orders']:>8,}{r['p50_ms']:>9.3f}{r['p99_ms']:>9.3f}"
            f"{r['order_p50_ms'] or 0:>11.3f}{r['order_p99_ms'] or 0:>11.3f}{r['max_ms']:>9.3f}"
        )
    print(json.dumps({"benchmark": "decision", "results": results, "target": {"p50_ms": 2, "p99_ms": 10}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
