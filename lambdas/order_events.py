"""Order events: Kinesis "orders" (the broker's trade updates) -> order state, positions, ledger,
and the S3 trade log.

Each update goes to the strategy that placed the order; booking is idempotent (executions by id)
and independent of arrival order. The batch's updates are appended to the trade log as one JSON
Lines object under ``trades/date=YYYY-MM-DD/``, keyed by the batch's shard and sequence numbers
and written only if absent -- never rewritten. (A batch retried with different boundaries may
log an update twice; every line carries its order id, event and execution id to dedupe on.)
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
from botocore.exceptions import ClientError

from lambdas.observability import KINESIS_BATCH, logger, metrics, tracer
from lambdas.wiring import environment, runtime
from quantterminal import constants as c
from quantterminal.core.trading.feed_codec import decode_order_update

processor = BatchProcessor(event_type=EventType.KinesisDataStreams)


def handle_record(record: KinesisStreamRecord, logged: list[dict[str, Any]]) -> None:
    """Book one order update."""
    update = decode_order_update(record.kinesis.data_as_bytes())
    fills = runtime().desk.on_update(update)
    metrics.add_metric(name=c.METRIC_ORDER_UPDATES, unit=MetricUnit.Count, value=1)
    if fills:
        metrics.add_metric(name=c.METRIC_FILLS, unit=MetricUnit.Count, value=len(fills))
    logged.append({"sequence": record.kinesis.sequence_number, **json.loads(record.kinesis.data_as_bytes())})


def write_trade_log(bucket: str, records: list[dict[str, Any]], first_event_id: str, s3: Any) -> bool:
    """Put the batch's lines at a key derived from the batch, only if absent; True if written."""
    if not records:
        return False
    day = str(records[0]["t"])[:10]
    shard, _, first = first_event_id.partition(":")
    key = f"trades/date={day}/{shard}-{first}-{records[-1]['sequence']}.jsonl"
    body = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records).encode()
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body, IfNoneMatch="*", ContentType="application/x-ndjson")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "ConditionalRequestConflict"):
            return False  # this very batch was logged before
        raise
    return True


@logger.inject_lambda_context(correlation_id_path=KINESIS_BATCH)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    logged: list[dict[str, Any]] = []
    response = process_partial_response(
        event=event,
        record_handler=lambda record: handle_record(record, logged),
        processor=processor,
        context=context,
    )
    bucket = environment().trade_log_bucket
    if bucket and event.get("Records"):
        write_trade_log(bucket, logged, event["Records"][0]["eventID"], boto3.client("s3"))
    return response
