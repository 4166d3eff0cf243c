"""Re-read the Kinesis batches a Lambda event source gave up on.

When a batch fails past its retries (or ages out), the event source mapping puts a *pointer* in
the failure queue -- the shard and the first and last sequence numbers, not the records. The
records stay in the stream until its retention ends (7 days here), so they can be read back,
inspected, and fed to the function again once the cause is fixed. Re-running is safe: every
handler is idempotent under redelivery.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from quantterminal.adapters.aws import clients as aws
from quantterminal.errors import RedriveError

GET_RECORDS_LIMIT = 1000


@dataclass(frozen=True)
class FailedBatch:
    """One pointer from the failure queue."""

    receipt_handle: str
    stream_arn: str
    shard_id: str
    first_sequence: str
    last_sequence: str
    size: int
    reason: str

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> FailedBatch:
        try:
            body = json.loads(message["Body"])
            info = body["KinesisBatchInfo"]
            return cls(
                message["ReceiptHandle"],
                info["streamArn"],
                info["shardId"],
                info["startSequenceNumber"],
                info["endSequenceNumber"],
                int(info.get("batchSize", 0)),
                str(body.get("requestContext", {}).get("condition", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RedriveError(f"not a Kinesis failure pointer: {exc}") from None

    @property
    def stream_name(self) -> str:
        return self.stream_arn.rsplit("/", 1)[-1]


def read_batch(batch: FailedBatch, kinesis: Any) -> list[dict[str, Any]]:
    """The batch's records from the stream, as Kinesis returns them (first to last sequence)."""
    try:
        iterator = kinesis.get_shard_iterator(
            StreamName=batch.stream_name,
            ShardId=batch.shard_id,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=batch.first_sequence,
        )["ShardIterator"]
    except kinesis.exceptions.InvalidArgumentException as exc:
        raise RedriveError(f"{batch.shard_id} {batch.first_sequence}: {exc}") from None
    records: list[dict[str, Any]] = []
    last = int(batch.last_sequence)
    while iterator:
        page = kinesis.get_records(ShardIterator=iterator, Limit=GET_RECORDS_LIMIT)
        for record in page["Records"]:
            if int(record["SequenceNumber"]) > last:
                return records
            records.append(record)
        if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
            break  # the end of the shard: nothing more will come
        iterator = page.get("NextShardIterator")
    if not records:
        raise RedriveError(f"{batch.shard_id} {batch.first_sequence}: the records are gone (stream retention?)")
    return records


def lambda_event(batch: FailedBatch, records: list[dict[str, Any]], region: str) -> dict[str, Any]:
    """The records as the event source mapping would hand them to the function."""
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r["PartitionKey"],
                    "sequenceNumber": r["SequenceNumber"],
                    "data": base64.b64encode(r["Data"]).decode(),
                    "approximateArrivalTimestamp": r["ApproximateArrivalTimestamp"].timestamp(),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{batch.shard_id}:{r['SequenceNumber']}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "",
                "awsRegion": region,
                "eventSourceARN": batch.stream_arn,
            }
            for r in records
        ]
    }


def pending(queue_url: str, sqs: Any, limit: int = 100) -> Iterator[FailedBatch]:
    """The pointers in the failure queue (each hidden for 5 minutes while it is handled)."""
    seen = 0
    while seen < limit:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=min(10, limit - seen), VisibilityTimeout=300, WaitTimeSeconds=1
        ).get("Messages", [])
        if not messages:
            return
        for message in messages:
            seen += 1
            yield FailedBatch.from_message(message)


def lambda_invoker(function: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Invoke ``function`` synchronously with an event; its response, or ``RedriveError``."""
    client = aws.client("lambda")

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        response = client.invoke(FunctionName=function, Payload=json.dumps(event).encode())
        payload = json.loads(response["Payload"].read() or b"{}")
        if response.get("FunctionError"):
            raise RedriveError(f"{function} failed again: {payload.get('errorMessage', payload)}")
        return dict(payload)

    return invoke


def rerun(
    batch: FailedBatch, kinesis: Any, invoke: Callable[[dict[str, Any]], dict[str, Any]], region: str
) -> list[str]:
    """Feed the batch to the function again; the sequence numbers it still reports failed."""
    answer = invoke(lambda_event(batch, read_batch(batch, kinesis), region))
    return [item["itemIdentifier"] for item in answer.get("batchItemFailures", [])]
