"""The Powertools logger, metrics and tracer every handler shares (one place, imported everywhere)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

from quantterminal import constants as c

logger = Logger(service=c.PIPELINE_SERVICE)
metrics = Metrics(namespace=c.METRICS_NAMESPACE, service=c.PIPELINE_SERVICE)
tracer = Tracer(service=c.PIPELINE_SERVICE)
