"""The Kinesis producer against moto: batching, order per symbol, partial failures retried in order."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from quantterminal.adapters.streams.kinesis_sink import MAX_RECORDS, KinesisPutError, KinesisSink
from quantterminal.core.market_data.feed_events import BarSource, BarUpdate
from quantterminal.core.models import Bar
from quantterminal.core.trading.feed_codec import RecordError, decode_bar_update, encode_bar_update
from tests.contract.test_alpaca_broker import FIXTURES

T0 = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)
SYMBOLS = ("SPY", "QQQ", "IWM")


@pytest.fixture
def kinesis(aws_credentials: None) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("kinesis", region_name="us-east-1")
        client.create_stream(StreamName="bars", ShardCount=2)
        yield client


def updates(minutes: int) -> list[BarUpdate]:
    return [
        BarUpdate(
            Bar(s, T0 + timedelta(minutes=m), 100.0 + m, 101.0 + m, 99.0 + m, 100.5 + m, 1000 + m, 100.2 + m, 10),
            BarSource.BUILT,
        )
        for m in range(minutes)
        for s in SYMBOLS
    ]


def read_all(client: Any) -> dict[str, list[BarUpdate]]:
    out: dict[str, list[BarUpdate]] = {}
    for shard in client.describe_stream(StreamName="bars")["StreamDescription"]["Shards"]:
        iterator = client.get_shard_iterator(
            StreamName="bars", ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = client.get_records(ShardIterator=iterator, Limit=10_000)
            for record in page["Records"]:
                update = decode_bar_update(record["Data"])
                out.setdefault(record["PartitionKey"], []).append(update)
            iterator = page.get("NextShardIterator") if page["Records"] else None
    return out


def test_bars_arrive_whole_and_in_order_per_symbol(kinesis: Any) -> None:
    sent = updates(400)  # 1,200 records: more than one request's worth
    requests = KinesisSink("bars", kinesis).put([(u.bar.symbol, encode_bar_update(u)) for u in sent])
    assert requests >= len(sent) // MAX_RECORDS
    received = read_all(kinesis)
    for symbol in SYMBOLS:
        assert received[symbol] == [u for u in sent if u.bar.symbol == symbol]


class Throttling:
    """A moto client that throttles some records of each request the first time it sees them."""

    def __init__(self, client: Any, fail_every: int = 3, always: bool = False) -> None:
        self.client = client
        self.fail_every = fail_every
        self.always = always
        self.failed_once: set[bytes] = set()
        self.requests: list[list[str]] = []

    def put_records(self, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        self.requests.append([r["PartitionKey"] for r in Records])
        results, accepted = [], []
        for i, record in enumerate(Records):
            if (self.always or record["Data"] not in self.failed_once) and i % self.fail_every == 0:
                self.failed_once.add(record["Data"])
                results.append({"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "slow down"})
            else:
                accepted.append(record)
                results.append({"SequenceNumber": "x", "ShardId": "y"})
        if accepted:
            self.client.put_records(StreamName=StreamName, Records=accepted)
        return {"FailedRecordCount": len(Records) - len(accepted), "Records": results}


def test_partial_failures_are_retried_and_order_per_symbol_is_kept(kinesis: Any) -> None:
    sent = updates(50)
    throttled = Throttling(kinesis)
    sink = KinesisSink("bars", throttled, sleep=lambda _: None)
    sink.put([(u.bar.symbol, encode_bar_update(u)) for u in sent])
    assert sink.retried_records > 0
    assert all(len(keys) == len(set(keys)) for keys in throttled.requests), "one record per symbol per request"
    received = read_all(kinesis)
    for symbol in SYMBOLS:
        assert received[symbol] == [u for u in sent if u.bar.symbol == symbol]


def test_records_that_never_get_through_raise_and_nothing_after_them_is_sent(kinesis: Any) -> None:
    sink = KinesisSink("bars", Throttling(kinesis, fail_every=1, always=True), attempts=3, sleep=lambda _: None)
    with pytest.raises(KinesisPutError, match="still failing after 3 attempts"):
        sink.put([(u.bar.symbol, encode_bar_update(u)) for u in updates(5)])
    assert read_all(kinesis) == {}


def test_oversized_records_and_unreadable_records_are_refused(kinesis: Any) -> None:
    with pytest.raises(ValueError, match="at most 1 MiB"):
        KinesisSink("bars", kinesis).put([("SPY", b"x" * (1024 * 1024))])
    with pytest.raises(RecordError, match="version 2"):
        decode_bar_update(b'{"v": 2}')
    with pytest.raises(RecordError, match="not a bar record"):
        decode_bar_update(b"garbage")


def test_bar_records_sink_writes_in_the_background_in_order(kinesis: Any) -> None:
    from quantterminal.adapters.streams.record_sink import bar_records

    sent = updates(300)
    sink = bar_records(KinesisSink("bars", kinesis))
    for u in sent:
        sink(u)
    assert sink.close(30)
    received = read_all(kinesis)
    for symbol in SYMBOLS:
        assert received[symbol] == [u for u in sent if u.bar.symbol == symbol]


@pytest.mark.skipif(not FIXTURES.exists(), reason="shared/fixtures not beside the checkout")
def test_trade_updates_are_forwarded_to_the_orders_stream(kinesis: Any) -> None:
    """The account's trade_updates (a real websocket speaking Alpaca's protocol) reach the "orders"
    stream exactly: every update decodes back to what the broker adapter produced; malformed ones
    are skipped by the adapter and never forwarded."""
    import json
    import time

    from quantterminal.adapters.broker.alpaca_broker import AlpacaBroker
    from quantterminal.adapters.streams.record_sink import order_records
    from quantterminal.core.trading.feed_codec import decode_order_update
    from tests.contract.test_alpaca_broker import fixture_messages
    from tests.fakes.alpaca_server import KEY, SECRET, FakeAlpaca
    from tests.fakes.alpaca_stream import FakeTradingStream

    kinesis.create_stream(StreamName="orders", ShardCount=1)
    frames = fixture_messages()
    malformed = json.loads(json.dumps(frames["A_partial_fill"]))
    del malformed["data"]["execution_id"]
    sent = [frames["A_new"], frames["A_partial_fill"], malformed, frames["A_fill"], frames["A_fill"]]
    seen: list[object] = []
    forward = order_records(KinesisSink("orders", kinesis))
    with FakeAlpaca() as rest, FakeTradingStream(sent) as stream:
        broker = AlpacaBroker(KEY, SECRET, url_override=rest.url, stream_url=stream.url)
        broker.on_update(lambda u: (seen.append(u), forward(u)))
        deadline = time.monotonic() + 15
        while len(seen) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        broker.close()
    assert forward.close(10)
    shard = kinesis.describe_stream(StreamName="orders")["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName="orders", ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    assert len(seen) == 3  # the repeated fill is forwarded once
    assert [decode_order_update(r["Data"]) for r in records] == seen
    assert {r["PartitionKey"] for r in records} == {seen[0].client_order_id}  # type: ignore[attr-defined]
