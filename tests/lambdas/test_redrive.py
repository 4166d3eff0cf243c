"""Failed batches re-read from their pointers: Kinesis and SQS on moto, the pointer in the format
Lambda's on-failure destination writes, and the recorder re-run on the real PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas import recorder
from quantterminal.adapters.streams.redrive import FailedBatch, pending, read_batch, rerun
from quantterminal.cli.main import main
from quantterminal.core.market_data.feed_events import BarSource, BarUpdate
from quantterminal.core.models import Bar
from quantterminal.core.trading.feed_codec import encode_bar_update
from quantterminal.errors import RedriveError
from tests.lambdas.harness import Context, Live


def pointer(stream_arn: str, shard: str, first: str, last: str, size: int) -> str:
    """What a Kinesis event source mapping sends to its on-failure destination."""
    return json.dumps(
        {
            "requestContext": {
                "requestId": "c9b8fa9f-5a7f-4bd6-8e89-4a5c0e9b2a62",
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:Recorder",
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": 6,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": "2011-01-03T15:00:00.000Z",
            "KinesisBatchInfo": {
                "shardId": shard,
                "startSequenceNumber": first,
                "endSequenceNumber": last,
                "approximateArrivalOfFirstRecord": "2011-01-03T14:59:00.000Z",
                "approximateArrivalOfLastRecord": "2011-01-03T15:00:00.000Z",
                "batchSize": size,
                "streamArn": stream_arn,
            },
        }
    )


@pytest.fixture
def failed(spy_2011_rth: list[Bar], aws_credentials: None) -> Iterator[dict[str, Any]]:
    """Twelve bars on a stream; a pointer to bars 3..8 in the failure queue."""
    with mock_aws():
        kinesis, sqs = boto3.client("kinesis"), boto3.client("sqs")
        kinesis.create_stream(StreamName="bars", ShardCount=1)
        arn = kinesis.describe_stream(StreamName="bars")["StreamDescription"]["StreamARN"]
        bars = spy_2011_rth[:12]
        sequences = [
            kinesis.put_record(
                StreamName="bars", PartitionKey="SPY", Data=encode_bar_update(BarUpdate(b, BarSource.PROVIDER))
            )
            for b in bars
        ]
        queue = sqs.create_queue(QueueName="failed-batches")["QueueUrl"]
        first, last = sequences[3], sequences[8]
        sqs.send_message(
            QueueUrl=queue,
            MessageBody=pointer(arn, first["ShardId"], first["SequenceNumber"], last["SequenceNumber"], 6),
        )
        yield {"kinesis": kinesis, "sqs": sqs, "queue": queue, "bars": bars}


def test_a_pointer_leads_back_to_exactly_its_records(failed: dict[str, Any]) -> None:
    (batch,) = pending(failed["queue"], failed["sqs"])
    assert batch.reason == "RetryAttemptsExhausted"
    records = read_batch(batch, failed["kinesis"])
    assert [r["Data"] for r in records] == [
        encode_bar_update(BarUpdate(b, BarSource.PROVIDER)) for b in failed["bars"][3:9]
    ]


def test_a_rerun_through_the_recorder_writes_the_batch(failed: dict[str, Any], live: Live) -> None:
    (batch,) = pending(failed["queue"], failed["sqs"])
    still = rerun(batch, failed["kinesis"], lambda event: recorder.handler(event, Context()), "us-east-1")
    assert still == []
    assert live.runtime.ledger.last_bars("SPY", 100) == failed["bars"][3:9]


def test_the_cli_prints_the_batch_and_keeps_the_pointer(failed: dict[str, Any], capsys: pytest.CaptureFixture) -> None:
    assert main(["failed-batches", "--queue", failed["queue"]]) == 0
    out = capsys.readouterr().out
    assert "bars shardId-000000000000" in out
    assert "6 record(s) (RetryAttemptsExhausted)" in out
    assert out.count(" SPY {") == 6


def test_a_malformed_pointer_is_refused_clearly() -> None:
    with pytest.raises(RedriveError, match="not a Kinesis failure pointer"):
        FailedBatch.from_message({"ReceiptHandle": "r", "Body": '{"something": "else"}'})
