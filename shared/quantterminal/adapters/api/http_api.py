"""The HTTP API: one Powertools ``APIGatewayRestResolver`` with request validation and a generated
OpenAPI document. The API Lambda serves it behind API Gateway; the local paper run serves the very
same resolver, so the routes exist once.

Routes (all JSON; money as exact decimal strings, times ISO 8601 UTC, days New York dates):

- ``GET /positions[?include_flat=true]``
- ``GET /orders[?day=YYYY-MM-DD&status=all|open&strategy=&symbol=]``
- ``GET /fills[?day=&strategy=&symbol=]``
- ``GET /pnl[?start=&end=]`` -- the equity curve with Sharpe and drawdown (default: the last 30 days)
- ``GET /strategies[?start=&end=]`` -- configured strategies, enabled or not, with their metrics
- ``GET /risk`` -- halt state, breaker, daily loss, reservations, limits
- ``GET /health`` -- last bar per symbol, feed lag, the bar handler's heartbeat (503 when stale)
- ``POST /halt`` / ``POST /resume`` with ``{"reason": "..."}``
- ``POST /strategies/{name}/enable`` / ``.../disable`` with ``{"reason": "..."}``
- ``GET /openapi.json``

Bad input (an unparsable date, an unknown status, a missing reason) is answered with 422 and what
is wrong; a body nested deeper than the JSON parser recurses with 400; an unknown strategy with
404; nothing is changed. Errors are mapped by meaning, from the core's own exceptions: anything
else is our fault, answered 500 with a generic message and logged with its traceback -- never
dressed up as the client's mistake.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import BaseModel, Field

from quantterminal import __version__
from quantterminal.core.market_data.sessions import session_date
from quantterminal.core.reporting.queries import AccountQueries, ActionRefused, UnknownStrategy, UnknownSymbol

log = logging.getLogger(__name__)
OPENAPI_PATH = "/openapi.json"
DEFAULT_WINDOW = timedelta(days=30)


class Reason(BaseModel):
    """Why an operator acts (kept in the ledger's risk events)."""

    reason: str = Field(
        min_length=1,
        max_length=500,
        pattern=r"^[^\x00-\x1f\x7f]+$",  # printable: refused whole (422) before anything is halted or recorded
        description="why; recorded with the action (printable text, no control characters)",
    )


def _aware(value: datetime | None, default: datetime) -> datetime:
    if value is None:
        return default
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def build_api(
    queries: Callable[[], AccountQueries],
    symbols: Callable[[], Sequence[str]],
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> APIGatewayRestResolver:
    """The resolver; ``queries`` and ``symbols`` are called per request (built lazily, so importing
    this needs no configuration)."""
    app = APIGatewayRestResolver(enable_validation=True)

    def window(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
        stop = _aware(end, now() + timedelta(seconds=1))
        return _aware(start, stop - DEFAULT_WINDOW), stop

    @app.get("/positions", summary="Open positions with last price and unrealised P&L")
    def positions(include_flat: Annotated[bool, Query()] = False) -> dict[str, Any]:
        return queries().positions(include_flat)

    @app.get("/orders", summary="Orders of a day, or every working order")
    def orders(
        day: Annotated[date | None, Query(description="New York date; default today")] = None,
        status: Annotated[Literal["all", "open"], Query()] = "all",
        strategy: Annotated[str | None, Query(max_length=64)] = None,
        symbol: Annotated[str | None, Query(max_length=16)] = None,
    ) -> dict[str, Any]:
        return queries().orders(day or session_date(now()), status, strategy, symbol)

    @app.get("/fills", summary="Fills of a day")
    def fills(
        day: Annotated[date | None, Query(description="New York date; default today")] = None,
        strategy: Annotated[str | None, Query(max_length=64)] = None,
        symbol: Annotated[str | None, Query(max_length=16)] = None,
    ) -> dict[str, Any]:
        return queries().fills(day or session_date(now()), strategy, symbol)

    @app.get("/pnl", summary="Equity curve, P&L, Sharpe and drawdown")
    def pnl(
        start: Annotated[datetime | None, Query()] = None, end: Annotated[datetime | None, Query()] = None
    ) -> dict[str, Any]:
        return queries().pnl(*window(start, end))

    @app.get("/strategies", summary="Configured strategies and their metrics")
    def strategies(
        start: Annotated[datetime | None, Query()] = None, end: Annotated[datetime | None, Query()] = None
    ) -> dict[str, Any]:
        return queries().strategy_metrics(*window(start, end))

    @app.get("/risk", summary="Risk state and limits")
    def risk() -> dict[str, Any]:
        return queries().risk()

    @app.get("/health", summary="Feed and pipeline health (503 while the feed is stale)")
    def health() -> Response[dict[str, Any]]:
        body = queries().health(symbols(), now())
        return Response(200 if body["ok"] else 503, content_types.APPLICATION_JSON, body)

    @app.post("/halt", summary="Kill switch: refuse every order from the next decision on")
    def halt(body: Annotated[Reason, Body()]) -> dict[str, Any]:
        return queries().halt(body.reason, now())

    @app.post("/resume", summary="Lift a halt or a tripped drawdown breaker")
    def resume(body: Annotated[Reason, Body()]) -> dict[str, Any]:
        return queries().resume(body.reason, now())

    @app.post("/strategies/<name>/enable", summary="Let a strategy open positions again")
    def enable(name: str, body: Annotated[Reason, Body()]) -> dict[str, Any]:
        return queries().set_strategy_enabled(name, True, body.reason, now())

    @app.post("/strategies/<name>/disable", summary="Stop a strategy's new entries (exits still pass)")
    def disable(name: str, body: Annotated[Reason, Body()]) -> dict[str, Any]:
        return queries().set_strategy_enabled(name, False, body.reason, now())

    @app.post(
        "/symbols/<symbol>/clear-halt",
        summary="Lift a symbol's recorded exchange halt whose resume was missed (it also ends with its session)",
    )
    def clear_halt(symbol: str, body: Annotated[Reason, Body()]) -> dict[str, Any]:
        return queries().clear_symbol_halt(symbol, body.reason, now())

    @app.get(OPENAPI_PATH, summary="This API's OpenAPI document", include_in_schema=False)
    def openapi() -> Response[str]:
        return Response(200, content_types.APPLICATION_JSON, openapi_document(app))

    @app.exception_handler(UnknownStrategy)  # type: ignore[untyped-decorator]
    def unknown(exc: UnknownStrategy) -> Response[dict[str, str]]:
        return Response(404, content_types.APPLICATION_JSON, {"message": f"unknown strategy {exc.args[0]!r}"})

    @app.exception_handler(UnknownSymbol)  # type: ignore[untyped-decorator]
    def not_halted(exc: UnknownSymbol) -> Response[dict[str, str]]:
        return Response(404, content_types.APPLICATION_JSON, {"message": f"{exc.args[0]!r} is not halted"})

    @app.exception_handler(ActionRefused)  # type: ignore[untyped-decorator]
    def refused(exc: ActionRefused) -> Response[dict[str, str]]:
        return Response(422, content_types.APPLICATION_JSON, {"message": str(exc)})

    @app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
    def invalid(exc: RequestValidationError) -> Response[dict[str, Any]]:
        # Powertools' own answer (which a handler for Exception would otherwise replace): where
        # and what, without pydantic's messages
        errors = [{"loc": e["loc"], "type": e["type"]} for e in exc.errors()]
        return Response(422, content_types.APPLICATION_JSON, {"statusCode": 422, "detail": errors})

    @app.exception_handler(ServiceError)  # type: ignore[untyped-decorator]
    def service(exc: ServiceError) -> Response[dict[str, Any]]:  # Powertools' own: no route (404), ...
        return Response(
            exc.status_code, content_types.APPLICATION_JSON, {"statusCode": exc.status_code, "message": exc.msg}
        )

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def failed(exc: Exception) -> Response[dict[str, str]]:
        log.error("API request failed", exc_info=exc)
        return Response(500, content_types.APPLICATION_JSON, {"message": "internal error; it has been logged"})

    @app.exception_handler(RecursionError)  # type: ignore[untyped-decorator]
    def too_deep(exc: RecursionError) -> Response[dict[str, str]]:
        return Response(400, content_types.APPLICATION_JSON, {"message": "request body is nested too deeply"})

    return app


def as_json_request(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` with a JSON body marked as JSON. ``curl -d '{...}'`` and many scripts send JSON
    as ``application/x-www-form-urlencoded``; the resolver would parse it as a form and then
    report every field missing."""
    body = (event.get("body") or "").lstrip()
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    if body.startswith("{") and not headers.get("content-type", "").startswith("application/json"):
        headers["content-type"] = "application/json"
        event = {**event, "headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()}}
    return event


def openapi_document(app: APIGatewayRestResolver) -> str:
    """The resolver's OpenAPI document as JSON."""
    return app.get_openapi_json_schema(
        title="QuantTerminal API",
        version=__version__,
        summary="Positions, orders, fills, P&L, strategies, risk state and health; halt and resume.",
    )
