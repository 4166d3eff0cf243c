"""API: the HTTP API (``adapters/api/http_api.py``) behind API Gateway, over this container's runtime."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from lambdas.observability import logger, metrics, tracer
from lambdas.wiring import runtime
from quantterminal.wiring.runtime import as_json_request, http_api

app = http_api(runtime)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(as_json_request(event), context)
