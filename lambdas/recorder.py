"""Recorder: Kinesis "bars" -> Aurora, one idempotent batch write per invocation (a bar written
twice changes nothing; a provider revision replaces the stored bar and bumps its revision)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import KinesisStreamEvent

from lambdas.observability import KINESIS_BATCH, logger, metrics, tracer
from lambdas.wiring import runtime
from quantterminal.core.market_data.feed_events import BarUpdate
from quantterminal.core.trading.feed_codec import RecordError, decode_feed_record


@logger.inject_lambda_context(correlation_id_path=KINESIS_BATCH)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bars = []
    failures = []
    for record in KinesisStreamEvent(event).records:
        try:
            item = decode_feed_record(record.kinesis.data_as_bytes())
            if isinstance(item, BarUpdate):  # trading statuses travel beside the bars; not stored here
                bars.append(item.bar)
        except RecordError as exc:  # a poison record fails alone; the rest is written
            logger.error("unreadable bar record", extra={"sequence": record.kinesis.sequence_number, "error": str(exc)})
            failures.append({"itemIdentifier": record.kinesis.sequence_number})
    if bars:
        report = runtime().ledger.ingest_bars(bars)
        metrics.add_metric(name="BarsRecorded", unit=MetricUnit.Count, value=report.inserted)
        metrics.add_metric(name="BarsRevised", unit=MetricUnit.Count, value=report.revised)
    return {"batchItemFailures": failures}
