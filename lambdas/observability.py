"""The Powertools logger, metrics and tracer every handler shares (one place, imported everywhere)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

from quantterminal import constants as c

logger = Logger(service=c.PIPELINE_SERVICE)
metrics = Metrics(namespace=c.METRICS_NAMESPACE, service=c.PIPELINE_SERVICE)
tracer = Tracer(service=c.PIPELINE_SERVICE)

# Log lines of one Kinesis batch share its first record's event id (shard:sequence), which is
# also what a failure pointer names; scheduled jobs use the EventBridge event id.
KINESIS_BATCH = "Records[0].eventID"
SCHEDULED_EVENT = "id"
