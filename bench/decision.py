"""Benchmark: bar -> order decision latency of the live path.

- ``handler``: the whole bar-handler Lambda (``lambdas.bar_handler.handler`` on a one-record Kinesis
  event): three strategies, the account view, risk, placement, heartbeat, ledger writes and the
  Powertools batch processor, logger and metrics -- on real Redis and PostgreSQL, with the
  order-events handler booking the broker's updates between bars (not timed). Also counts the
  Redis round trips per bar (a pipeline or a script is one).
- ``memory`` / ``redis``: one engine alone (``TradingEngine.on_bar``: restore the strategy, decide,
  save it, size, risk-check with an atomic reservation, record the open order, submit).

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

from quantterminal.adapters.broker.simulated_broker import SimulatedBroker, SimulatorConfig
from quantterminal.adapters.market_data.csv_bars import SAMPLE_ROOT, load_bars
from quantterminal.adapters.state.memory_state import MemoryStateStore
from quantterminal.adapters.state.redis_state import RedisStateStore
from quantterminal.core.accounting.metrics import percentile
from quantterminal.core.models import Bar
from quantterminal.core.money import to_decimal
from quantterminal.core.risk.gate import RiskGate
from quantterminal.core.risk.manager import AccountView, RiskLimits
from quantterminal.core.simulation.fill_model import FillModel
from quantterminal.core.trading.engine import TradingEngine

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
    broker = SimulatedBroker(SimulatorConfig(fills=FillModel(participation=0.5)))
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


def run_handler(bars: list[Bar]) -> dict[str, Any]:
    """The whole bar handler per bar (see the module docs)."""
    import contextlib
    import io
    from datetime import datetime
    from unittest import mock

    import redis

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "QuantTerminalBench")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import logging

    from lambdas import bar_handler, observability, order_events, wiring
    from quantterminal.adapters.ledger.postgres_ledger import PostgresLedger
    from quantterminal.core.market_data.feed_events import BarSource, BarUpdate
    from quantterminal.core.trading.feed_codec import encode_bar_update, encode_order_update
    from quantterminal.wiring.runtime import Runtime
    from tests.lambdas.harness import Context, kinesis_event
    from tests.services import POSTGRES_URL, drop_schema, new_schema

    schema, prefix = new_schema(), f"qtbench{uuid.uuid4().hex[:8]}"
    ledger = PostgresLedger(os.environ.get("QT_BENCH_DATABASE_URL", POSTGRES_URL), schema=schema)
    ledger.migrate()
    store = RedisStateStore(REDIS_URL, prefix=prefix)
    broker = SimulatedBroker(SimulatorConfig(fills=FillModel(participation=0.5)))
    updates: list[Any] = []
    broker.on_update(updates.append)
    rt = Runtime.build(store, ledger, broker, symbols=("SPY",))
    wiring.use(rt)
    placed = [False]  # whether the bar being timed placed an order (its latency is reported apart)
    step = rt.desk.step

    def step_seen(*args: Any, **kwargs: Any) -> Any:
        outcome = step(*args, **kwargs)
        placed[0] = placed[0] or any(d.placed is not None for d in outcome.decisions.values())
        return outcome

    rt.desk.step = step_seen  # type: ignore[method-assign]
    now = [bars[0].timestamp]

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return now[0]

    round_trips = [0]
    plain, piped = redis.Redis.execute_command, redis.client.Pipeline.execute

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        round_trips[0] += 1
        return plain(self, *args, **kwargs)

    def counted_pipeline(self: Any, *args: Any, **kwargs: Any) -> Any:
        round_trips[0] += 1
        return piped(self, *args, **kwargs)

    timings, order_timings, trips, sink = [], [], [], io.StringIO()
    for log_handler in logging.getLogger(observability.logger.service).handlers:
        if isinstance(log_handler, logging.StreamHandler):
            log_handler.setStream(sink)  # the function's JSON logs: written, as in Lambda, but not shown
    try:
        with (
            mock.patch.object(bar_handler, "datetime", Frozen),
            mock.patch.object(redis.Redis, "execute_command", counted),
            mock.patch.object(redis.client.Pipeline, "execute", counted_pipeline),
            contextlib.redirect_stdout(sink),  # the EMF metrics and JSON logs the function prints
        ):
            for i, bar in enumerate(bars):
                broker.on_bar(bar)
                if updates:
                    records = [(u.client_order_id, encode_order_update(u)) for u in updates]
                    updates.clear()
                    order_events.handler(kinesis_event(records, start=i), Context())
                now[0] = bar.timestamp + timedelta(minutes=1)
                event = kinesis_event([(bar.symbol, encode_bar_update(BarUpdate(bar, BarSource.PROVIDER)))], start=i)
                round_trips[0], placed[0] = 0, False
                started = time.perf_counter()
                bar_handler.handler(event, Context())
                timings.append((time.perf_counter() - started) * 1000)
                if placed[0]:
                    order_timings.append(timings[-1])
                trips.append(round_trips[0])
                sink.seek(0)
                sink.truncate()
    finally:
        wiring.use(None)
        keys = list(store.client.scan_iter(f"{prefix}:*"))
        if keys:
            store.client.delete(*keys)
        store.close()
        ledger.close()
        drop_schema(schema)
    return {
        "store": "handler",
        "bars": len(bars),
        "strategies": len(rt.desk.engines),
        "p50_ms": round(statistics.median(timings), 3),
        "p99_ms": round(percentile(sorted(timings), 0.99), 3),
        "max_ms": round(max(timings), 3),
        "orders": len(order_timings),
        "order_p50_ms": round(statistics.median(order_timings), 3) if order_timings else None,
        "order_p99_ms": round(percentile(sorted(order_timings), 0.99), 3) if order_timings else None,
        "redis_round_trips_per_bar": statistics.median(trips),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=3_900, help="bars to decide on (default 3,900: ten sessions)")
    parser.add_argument(
        "--handler-bars", type=int, default=1_170, help="bars through the whole handler (default 3 days)"
    )
    args = parser.parse_args()
    bars = spy_bars(args.bars)
    handler = run_handler(bars[: args.handler_bars])
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
    print(
        f"\nthe whole bar handler (3 strategies, Redis + PostgreSQL), {handler['bars']:,} bars: "
        f"p50 {handler['p50_ms']:.2f} ms, p99 {handler['p99_ms']:.2f} ms, max {handler['max_ms']:.2f} ms, "
        f"{handler['redis_round_trips_per_bar']:.0f} Redis round trips per bar (median); "
        f"the {handler['orders']} bars that placed an order: p50 {handler['order_p50_ms'] or 0:.2f} ms, "
        f"p99 {handler['order_p99_ms'] or 0:.2f} ms"
    )
    figures = {"benchmark": "decision", "handler": handler, "results": results}
    print(json.dumps({**figures, "target": {"handler": {"p50_ms": 1, "p99_ms": 5}, "engine": {"p50_ms": 2}}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
