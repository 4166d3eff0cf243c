"""The Lambda test harness: Kinesis-shaped events, a Lambda context, the handlers' clock, and a
live runtime on the real PostgreSQL and Redis with the simulated broker."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lambdas import bar_handler, order_events, recorder, wiring
from quantterminal.adapters.broker.simulated_broker import SimulatedBroker, SimulatorConfig
from quantterminal.adapters.ledger.postgres_ledger import PostgresLedger
from quantterminal.adapters.state.redis_state import RedisStateStore
from quantterminal.core.accounting.orders import OrderUpdate
from quantterminal.core.market_data.feed_events import BarSource, BarUpdate
from quantterminal.core.models import Bar
from quantterminal.core.simulation.fill_model import FillModel
from quantterminal.core.trading.feed_codec import encode_bar_update, encode_order_update
from quantterminal.wiring.runtime import Runtime
from tests.services import (
    POSTGRES_URL,
    REDIS_URL,
    check_postgres,
    check_redis,
    delete_redis_keys,
    drop_schema,
    new_schema,
    require,
)


@dataclass
class Context:
    """What Powertools reads from a Lambda context."""

    function_name: str = "qt-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:qt-test"
    aws_request_id: str = "req-1"


class Clock:
    """The handlers' "now": each bar is decided as its minute closes."""

    now = datetime(2011, 1, 3, tzinfo=UTC)


def kinesis_event(records: list[tuple[str, bytes]], shard: str = "shardId-000000000000", start: int = 0) -> dict:
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": key,
                    "sequenceNumber": f"{start + i:056d}",
                    "data": base64.b64encode(data).decode(),
                    "approximateArrivalTimestamp": 1.0,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{shard}:{start + i:056d}",
                "eventName": "aws:kinesis:record",
                "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/bars",
            }
            for i, (key, data) in enumerate(records)
        ]
    }


def bar_event(bars: list[Bar], start: int = 0) -> dict:
    return kinesis_event([(b.symbol, encode_bar_update(BarUpdate(b, BarSource.PROVIDER))) for b in bars], start=start)


@dataclass
class Live:
    runtime: Runtime
    broker: SimulatedBroker
    updates: list[OrderUpdate]
    prefix: str
    schema: str = ""


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch, aws_credentials: None) -> Iterator[Live]:
    require("PostgreSQL at 127.0.0.1:5432", check_postgres)
    require("Redis at 127.0.0.1:6379", check_redis)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    schema, prefix = new_schema(), f"qtl{uuid.uuid4().hex[:8]}"
    ledger = PostgresLedger(POSTGRES_URL, schema=schema)
    ledger.migrate()
    store = RedisStateStore(REDIS_URL, prefix=prefix)
    broker = SimulatedBroker(SimulatorConfig(fills=FillModel(participation=0.5)))
    updates: list[OrderUpdate] = []
    broker.on_update(updates.append)  # what the feed task forwards to the "orders" stream
    rt = Runtime.build(store, ledger, broker, strategies=("momentum",))
    monkeypatch.setattr(bar_handler, "datetime", _FrozenDatetime)
    wiring.use(rt)
    try:
        yield Live(rt, broker, updates, prefix, schema)
    finally:
        wiring.use(None)
        ledger.close()
        store.close()
        drop_schema(schema)
        delete_redis_keys(f"{prefix}:*")


class _FrozenDatetime(datetime):
    @classmethod
    def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
        return Clock.now


def run_bars(live: Live, bars: list[Bar], redeliver: bool = False) -> list[dict]:
    """Bars as the pipeline delivers them, one minute at a time: the broker sees each bar (its
    updates are forwarded to order events, as the feed task does), then the bar handler gets it
    at its close (twice with ``redeliver``: Kinesis retried the batch)."""
    responses = []
    for i, bar in enumerate(bars):
        live.broker.on_bar(bar)
        forward_updates(live, start=2 * i)
        Clock.now = bar.timestamp + timedelta(minutes=1)
        responses.append(bar_handler.handler(bar_event([bar], start=i), Context()))
        if redeliver:
            responses.append(bar_handler.handler(bar_event([bar], start=i), Context()))
        forward_updates(live, start=2 * i + 1)
    return responses


def forward_updates(live: Live, start: int = 0) -> None:
    if live.updates:
        pending, live.updates[:] = list(live.updates), []
        records = [(u.client_order_id, encode_order_update(u)) for u in pending]
        order_events.handler(kinesis_event(records, start=start), Context())


@pytest.fixture
def traded(live: Live, spy_2011_rth: list[Bar]) -> Live:
    """The first 150 minutes of 2011-01-03 decided, filled, booked and recorded."""
    live.runtime.symbols = ("SPY",)
    bars = spy_2011_rth[:150]
    run_bars(live, bars)
    live.broker.flush()
    forward_updates(live, start=10_000)
    recorder.handler(bar_event(bars), Context())
    return live
