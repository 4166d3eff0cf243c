"""The API Lambda on real parts: a real SPY session through the bar handler, order events and the
recorder (PostgreSQL, Redis, simulated broker), then every route through API Gateway-shaped
events -- reads that agree with the state store and the broker, operator actions that take effect
on the next bar, and bad input refused with 422 and nothing changed."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from lambdas import api
from quantterminal.adapters.api.http_api import build_api
from quantterminal.core.market_data.sessions import session_date
from quantterminal.core.models import Bar
from tests.lambdas.harness import Clock, Context, Live, run_bars

DAY = "2011-01-03"


def request(method: str, path: str, query: dict[str, str] | None = None, body: Any = None) -> dict[str, Any]:
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"content-type": "application/json", "x-api-key": "k"},
        "multiValueHeaders": {},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()} or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {"requestId": "req-1", "stage": "prod", "httpMethod": method, "path": path},
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


def call(method: str, path: str, query: dict[str, str] | None = None, body: Any = None) -> tuple[int, Any]:
    response = api.handler(request(method, path, query, body), Context())
    return response["statusCode"], json.loads(response["body"])


def test_reads_agree_with_the_state_store_the_ledger_and_the_broker(traded: Live) -> None:
    status, positions = call("GET", "/positions")
    assert status == 200
    broker = {p.symbol: p.qty for p in traded.broker.positions()}
    assert {p["symbol"]: p["qty"] for p in positions["positions"]} == {s: q for s, q in broker.items() if q}
    for row in positions["positions"]:
        lots = traded.runtime.store.get_position("paper", row["strategy"], row["symbol"]).lots
        last = Decimal(row["last_price"])
        assert Decimal(row["unrealized_pnl"]) == sum((q * (last - p) for q, p in lots), Decimal(0))

    status, orders = call("GET", "/orders", {"day": DAY})
    assert status == 200
    placed = {o.client_order_id for o in traded.broker.all_orders()}
    assert {o["client_order_id"] for o in orders["orders"]} == placed
    statuses = {o["status"] for o in orders["orders"]}
    assert "filled" in statuses
    assert statuses <= {"filled", "canceled", "partially_filled", "accepted", "new", "pending_cancel"}, statuses
    status, only_open = call("GET", "/orders", {"status": "open"})
    assert status == 200
    assert {o["client_order_id"] for o in only_open["orders"]} == {
        o.client_order_id for o in traded.runtime.store.open_orders("paper")
    }

    status, fills = call("GET", "/fills", {"day": DAY, "strategy": "momentum"})
    assert status == 200
    assert len(fills["fills"]) == len(traded.broker.fills)
    assert all(f["strategy"] == "momentum" for f in fills["fills"])
    _, none = call("GET", "/fills", {"day": DAY, "symbol": "QQQ"})
    assert none["fills"] == []

    start = "2011-01-03T00:00:00+00:00"
    status, pnl = call("GET", "/pnl", {"start": start, "end": "2011-01-04T00:00:00+00:00"})
    assert status == 200
    assert len(pnl["curve"]) >= 100  # one equity snapshot per minute traded
    # the header's equity: the last snapshot's cash and every position at its latest close (a snapshot
    # is written on its minute's first bar, with the other symbols a minute old)
    marked = Decimal(pnl["curve"][-1]["cash"]) + sum(
        (p["qty"] * Decimal(p["last_price"]) for p in positions["positions"]), Decimal(0)
    )
    assert Decimal(pnl["equity"]) == marked
    assert Decimal(pnl["equity"]) == traded.broker.account().equity
    assert Decimal(pnl["pnl"]) == marked - Decimal(pnl["start_equity"])

    status, strategies = call("GET", "/strategies", {"start": start, "end": "2011-01-04T00:00:00+00:00"})
    assert status == 200
    (momentum,) = strategies["strategies"]
    assert momentum["strategy"] == "momentum"
    assert momentum["enabled"]
    assert momentum["configured"]
    assert momentum["timeframe"] == "1min"
    assert momentum["fills"] == len(traded.broker.fills)
    assert momentum["execution"]["orders"] == len(placed)

    status, risk = call("GET", "/risk")
    assert status == 200
    assert risk["halted"] is False


def test_halt_stops_the_next_bar_and_resume_lifts_it(traded: Live, spy_2011_rth: list[Bar]) -> None:
    event = request("POST", "/halt", body={"reason": "operator: news pending"})
    event["headers"]["content-type"] = "application/x-www-form-urlencoded"  # what curl -d sends
    response = api.handler(event, Context())
    status, risk = response["statusCode"], json.loads(response["body"])
    assert status == 200
    assert risk["halted"]
    assert risk["halt_reason"] == "operator: news pending"
    before = len(traded.broker.all_orders())
    run_bars(traded, spy_2011_rth[150:250])
    assert len(traded.broker.all_orders()) == before, "no order while halted"
    today = session_date(datetime.now(UTC))  # the API acts at the wall clock's time
    halts = [e for e in traded.runtime.ledger.risk_events_on(today) if e.kind == "halt"]
    assert [e.reason for e in halts] == ["operator: news pending"]
    status, risk = call("POST", "/resume", body={"reason": "news out"})
    assert status == 200
    assert risk["halted"] is False
    run_bars(traded, spy_2011_rth[250:389])
    assert len(traded.broker.all_orders()) > before


def test_a_disabled_strategy_opens_nothing(traded: Live, spy_2011_rth: list[Bar]) -> None:
    status, risk = call("POST", "/strategies/momentum/disable", body={"reason": "review"})
    assert status == 200
    assert risk["disabled_strategies"] == ["momentum"]
    _, strategies = call("GET", "/strategies")
    assert strategies["strategies"][0]["enabled"] is False
    run_bars(traded, spy_2011_rth[150:389])
    rejections = [e for e in traded.runtime.ledger.risk_events_on(date(2011, 1, 3)) if e.kind == "rejection"]
    entries = [e for e in rejections if e.details.get("rule") == "strategy_disabled"]
    assert entries, "entries are refused while disabled"
    status, risk = call("POST", "/strategies/momentum/enable", body={"reason": "reviewed"})
    assert status == 200
    assert risk["disabled_strategies"] == []


def test_an_operator_clears_a_halt_whose_resume_was_missed(traded: Live) -> None:
    traded.runtime.gate.set_symbol_halted("SPY", True, "Trading Halt (T12)", datetime.now(UTC))
    assert call("POST", "/symbols/QQQ/clear-halt", body={"reason": "x"})[0] == 404  # not halted
    assert call("POST", "/symbols/SPY/clear-halt", body={"reason": " "})[0] == 422
    _, risk = call("GET", "/risk")
    assert risk["halted_symbols"] == {"SPY": "Trading Halt (T12)"}
    status, risk = call("POST", "/symbols/SPY/clear-halt", body={"reason": "resumed at 10:42 per Nasdaq"})
    assert status == 200
    assert risk["halted_symbols"] == {}
    today = session_date(datetime.now(UTC))
    resumes = [e.reason for e in traded.runtime.ledger.risk_events_on(today) if e.kind == "symbol_resume"]
    assert resumes == ["SPY: cleared by an operator: resumed at 10:42 per Nasdaq"]


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "status"),
    [
        ("GET", "/orders", {"day": "yesterday"}, None, 422),
        ("GET", "/orders", {"status": "working"}, None, 422),
        ("GET", "/pnl", {"start": "not a time"}, None, 422),
        ("POST", "/halt", None, {}, 422),
        ("POST", "/halt", None, {"reason": ""}, 422),
        ("POST", "/halt", None, "not json", 422),
        ("POST", "/strategies/nonesuch/disable", None, {"reason": "x"}, 404),
        ("GET", "/nowhere", None, None, 404),
    ],
)
def test_bad_requests_are_refused_and_change_nothing(
    traded: Live, method: str, path: str, query: dict[str, str] | None, body: Any, status: int
) -> None:
    before = traded.runtime.store.get_risk_state("paper")
    got, answer = call(method, path, query, body)
    assert got == status, answer
    assert traded.runtime.store.get_risk_state("paper") == before


def test_health_reports_the_feed_lag_and_the_bar_handlers_heartbeat(traded: Live) -> None:
    last = traded.runtime.ledger.last_bars("SPY", 1)[0].timestamp
    clock = {"now": last + timedelta(minutes=1, seconds=5)}
    app = build_api(lambda: traded.runtime.queries, lambda: ("SPY",), lambda: clock["now"])

    def health() -> tuple[int, Any]:
        response = app.resolve(request("GET", "/health"), Context())
        return response["statusCode"], json.loads(response["body"])

    status, body = health()
    assert status == 200
    assert body["ok"]
    assert body["market_open"]
    assert body["feed_lag_seconds"] == 5.0
    assert body["bar_handler"]["last_bar"] == last.isoformat()
    clock["now"] = last + timedelta(minutes=4)  # market open, no bar for 3 minutes
    status, body = health()
    assert status == 503
    assert not body["ok"]
    assert Clock.now.tzinfo is UTC


def test_the_openapi_document_lists_every_route() -> None:
    status, document = call("GET", "/openapi.json")
    assert status == 200
    assert document["info"]["title"] == "QuantTerminal API"
    assert set(document["paths"]) == {
        "/positions",
        "/orders",
        "/fills",
        "/pnl",
        "/strategies",
        "/risk",
        "/health",
        "/halt",
        "/resume",
        "/strategies/{name}/enable",
        "/strategies/{name}/disable",
        "/symbols/{symbol}/clear-halt",
    }
    halt = document["paths"]["/halt"]["post"]
    assert "requestBody" in halt
