"""Migrate: applies the ledger's schema migrations at deploy time (a CDK trigger runs it once the
database exists and again on every deploy). Idempotent, and safe beside running Lambdas (advisory
lock); a failure fails the deployment instead of the first bar."""

from __future__ import annotations

from typing import Any

from lambdas.observability import logger
from quantterminal.environment import Environment
from quantterminal.wiring.runtime import ledger_from_env


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ledger = ledger_from_env(Environment.read())
    try:
        applied = ledger.migrate()
    finally:
        ledger.close()
    logger.info("ledger migrated", extra={"applied": applied})
    return {"applied": applied}
