"""The Lambda path on real parts: Kinesis-shaped events of real bars through the bar handler ->
simulated broker -> order events -> positions, on the real PostgreSQL and Redis, with the S3 trade
log on moto. Redelivered batches, a poison record, and parity with the backtester."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas import bar_handler, order_events, recorder, wiring
from quantterminal.adapters.postgres_ledger import PostgresLedger
from quantterminal.adapters.redis_state import RedisStateStore
from quantterminal.adapters.runtime import Runtime
from quantterminal.adapters.simulated_broker import SimulatedBroker, SimulatorConfig
from quantterminal.core.backtest import BacktestConfig, run_backtest
from quantterminal.core.feed_codec import encode_bar_update, encode_order_update
from quantterminal.core.feed_events import BarSource, BarUpdate
from quantterminal.core.models import Bar
from quantterminal.core.order_state import OrderUpdate
from quantterminal.core.orders import client_order_id
from quantterminal.core.risk import RiskLimits
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


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    require("PostgreSQL at 127.0.0.1:5432", check_postgres)
    require("Redis at 127.0.0.1:6379", check_redis)
    for name, value in (
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "t"),
        ("AWS_SECRET_ACCESS_KEY", "t"),
    ):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    schema, prefix = new_schema(), f"qtl{uuid.uuid4().hex[:8]}"
    ledger = PostgresLedger(POSTGRES_URL, schema=schema)
    ledger.migrate()
    store = RedisStateStore(REDIS_URL, prefix=prefix)
    broker = SimulatedBroker(SimulatorConfig(participation=0.5))
    updates: list[OrderUpdate] = []
    broker.on_update(updates.append)  # what the feed task forwards to the "orders" stream
    rt = Runtime.build(store, ledger, broker, strategies=("momentum",), limits=RiskLimits())
    monkeypatch.setattr(bar_handler, "datetime", _FrozenDatetime)
    wiring.use(rt)
    try:
        yield Live(rt, broker, updates, prefix)
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


def run_bars(live: Live, bars: list[Bar], batch: int = 20, redeliver: bool = False) -> list[dict]:
    """Bars in batches, as Kinesis delivers them; broker updates forwarded to order events."""
    responses = []
    for i in range(0, len(bars), batch):
        chunk = bars[i : i + batch]
        for bar in chunk:
            live.broker.on_bar(bar)
        Clock.now = chunk[-1].timestamp + timedelta(minutes=1)
        # one bar at a time keeps "now" at each bar's close, as in production
        for j, bar in enumerate(chunk):
            Clock.now = bar.timestamp + timedelta(minutes=1)
            responses.append(bar_handler.handler(bar_event([bar], start=i + j), Context()))
            if redeliver:
                responses.append(bar_handler.handler(bar_event([bar], start=i + j), Context()))
        forward_updates(live)
    return responses


def forward_updates(live: Live, start: int = 0) -> None:
    if live.updates:
        pending, live.updates[:] = list(live.updates), []
        records = [(u.client_order_id, encode_order_update(u)) for u in pending]
        order_events.handler(kinesis_event(records, start=start), Context())


def test_bars_to_orders_to_positions_and_redelivery_places_nothing_twice(live: Live, spy_2011_rth: list[Bar]) -> None:
    day = spy_2011_rth[:389]
    responses = run_bars(live, day, redeliver=True)
    live.broker.flush()
    forward_updates(live)
    assert all(r == {"batchItemFailures": []} for r in responses)
    orders = live.broker.all_orders()
    assert orders
    assert len({o.client_order_id for o in orders}) == len(orders), "no order placed twice"
    truth = {p.symbol: p.qty for p in live.broker.positions()}
    assert live.runtime.store.get_position("paper", "momentum", "SPY").qty == truth.get("SPY", 0)
    fills = live.runtime.ledger.fills_for("momentum", "SPY")
    assert sum(f.qty * f.side.sign for f in fills) == truth.get("SPY", 0)


def test_a_poison_record_fails_alone_and_later_bars_of_its_symbol_wait(live: Live, spy_2011_rth: list[Bar]) -> None:
    spy = spy_2011_rth[:3]
    ibm = [Bar("IBM", b.timestamp, 150.0, 150.5, 149.5, 150.2, 1000) for b in spy]
    records = [
        ("SPY", encode_bar_update(BarUpdate(spy[0], BarSource.PROVIDER))),
        ("IBM", encode_bar_update(BarUpdate(ibm[0], BarSource.PROVIDER))),
        ("SPY", b"}{ not a bar"),
        ("IBM", encode_bar_update(BarUpdate(ibm[1], BarSource.PROVIDER))),
        ("SPY", encode_bar_update(BarUpdate(spy[1], BarSource.PROVIDER))),
    ]
    Clock.now = spy[1].timestamp + timedelta(minutes=1)
    response = bar_handler.handler(kinesis_event(records), Context())
    failed = [item["itemIdentifier"] for item in response["batchItemFailures"]]
    assert failed == [f"{2:056d}", f"{4:056d}"]  # the poison record, then SPY's later bar; IBM went on
    snapshot = live.runtime.store.load_snapshot("momentum", "IBM")
    assert snapshot is not None
    assert snapshot["last_bar"]["t"] == ibm[1].timestamp.isoformat()


def test_parity_the_bar_handler_decides_as_the_backtester_does(live: Live, spy_2011_rth: list[Bar]) -> None:
    """The same real bars through the backtester and through the bar handler (strategy state
    restored from Redis on every invocation) give the same decisions; every order placed is one
    of those decisions, under its deterministic client order id."""
    day = spy_2011_rth[:389]
    outcomes: list[Any] = []
    on_bar = live.runtime.desk.on_bar

    def spy_on(update: BarUpdate, now: datetime) -> Any:
        outcomes.append(on_bar(update, now))
        return outcomes[-1]

    live.runtime.desk.on_bar = spy_on  # type: ignore[method-assign]
    run_bars(live, day)
    assert len(outcomes) == len(day)
    live_directions = [o.decisions["momentum"].signal for o in outcomes]
    changes = [
        (s.bar_time, s.direction)
        for i, s in enumerate(live_directions)
        if s is not None
        and (i == 0 or live_directions[i - 1] is None or live_directions[i - 1].direction != s.direction)
    ]
    backtest = run_backtest(BacktestConfig(strategy="momentum"), {"SPY": day})
    assert changes == [(s.bar_time, s.direction) for s in backtest.signals]
    # Every order carries the direction the backtester holds at its bar (a re-entry after an
    # unfilled limit order is a later bar with the same direction, under its own id).
    in_force = {}
    current = None
    for bar in day:
        current = next((sig.direction for sig in backtest.signals if sig.bar_time == bar.timestamp), current)
        if current is not None:
            in_force[client_order_id("momentum", "SPY", bar.timestamp, current.value)] = bar.timestamp
    placed = [o.client_order_id for o in live.broker.all_orders()]
    assert placed
    assert all(coid in in_force for coid in placed)


def test_the_recorder_writes_bars_idempotently_and_skips_poison(live: Live, spy_2011_rth: list[Bar]) -> None:
    bars = spy_2011_rth[:50]
    event = bar_event(bars)
    event["Records"].insert(10, kinesis_event([("SPY", b"garbage")], start=999)["Records"][0])
    first = recorder.handler(event, Context())
    second = recorder.handler(event, Context())
    assert first == second == {"batchItemFailures": [{"itemIdentifier": f"{999:056d}"}]}
    assert live.runtime.ledger.last_bars("SPY", 100) == bars


def test_the_trade_log_is_written_once_per_batch_as_json_lines(live: Live) -> None:
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="trades")
        records = [{"sequence": "1", "t": "2011-01-03T15:00:00+00:00", "id": "qt-1", "ev": "new"}]
        assert order_events.write_trade_log("trades", records, "shardId-0:0001", s3)
        assert not order_events.write_trade_log("trades", records, "shardId-0:0001", s3)  # never rewritten
        (obj,) = s3.list_objects_v2(Bucket="trades")["Contents"]
        assert obj["Key"] == "trades/date=2011-01-03/shardId-0-0001-1.jsonl"
        body = s3.get_object(Bucket="trades", Key=obj["Key"])["Body"].read().decode()
        assert [json.loads(line) for line in body.splitlines()] == records
