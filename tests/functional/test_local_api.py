"""The local API server: the Lambda's resolver over HTTP on loopback, behind the API key, with the
OpenAPI document, the dashboard's files and its server-sent events."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from quantterminal.adapters.http_api import build_api
from quantterminal.adapters.local_api import LocalApiServer, api_key
from quantterminal.adapters.memory_state import MemoryStateStore
from quantterminal.adapters.runtime import Runtime
from quantterminal.adapters.simulated_broker import SimulatedBroker
from quantterminal.adapters.sqlite_ledger import SqliteLedger

KEY = "test-key-123"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[LocalApiServer, Runtime]]:
    ledger = SqliteLedger(tmp_path / "ledger.sqlite3")
    ledger.migrate()
    runtime = Runtime.build(MemoryStateStore(), ledger, SimulatedBroker(), symbols=("SPY",))
    app = build_api(lambda: runtime.queries, lambda: runtime.symbols)
    with LocalApiServer(app, KEY, every=0.1) as running:
        yield running, runtime
    ledger.close()


def fetch(url: str, key: str | None = KEY, body: Any = None) -> tuple[int, bytes, str]:
    request = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode())
    if key:
        request.add_header("x-api-key", key)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read(), response.headers["Content-Type"]
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers["Content-Type"]


def test_the_api_needs_the_key(server: tuple[LocalApiServer, Runtime]) -> None:
    running, _ = server
    assert fetch(f"{running.url}/v1/positions", key=None)[0] == 401
    assert fetch(f"{running.url}/v1/positions", key="wrong")[0] == 401
    status, body, kind = fetch(f"{running.url}/v1/positions")
    assert status == 200
    assert kind == "application/json"
    assert json.loads(body)["positions"] == []


def test_the_openapi_document_is_public_and_lists_the_routes(server: tuple[LocalApiServer, Runtime]) -> None:
    running, _ = server
    status, body, _ = fetch(f"{running.url}/v1/openapi.json", key=None)
    assert status == 200
    assert "/positions" in json.loads(body)["paths"]


def test_a_halt_over_http_reaches_the_risk_state_and_bad_input_changes_nothing(
    server: tuple[LocalApiServer, Runtime],
) -> None:
    running, runtime = server
    assert fetch(f"{running.url}/v1/halt", body={"reason": ""})[0] == 422
    assert runtime.store.get_risk_state("paper").halted is False
    status, body, _ = fetch(f"{running.url}/v1/halt", body={"reason": "from the test"})
    assert status == 200
    assert json.loads(body)["halted"] is True
    assert runtime.store.get_risk_state("paper").halt_reason == "from the test"


def test_events_stream_snapshots_and_the_dashboard_is_served(server: tuple[LocalApiServer, Runtime]) -> None:
    running, _ = server
    assert fetch(f"{running.url}/v1/events", key=None)[0] == 401
    with urllib.request.urlopen(f"{running.url}/v1/events?key={KEY}", timeout=5) as stream:
        assert stream.headers["Content-Type"] == "text/event-stream"
        lines = [stream.readline().decode() for _ in range(2)]
    assert lines[0] == "event: snapshot\n"
    snapshot = json.loads(lines[1].removeprefix("data: "))
    assert {"positions", "pnl", "orders", "fills", "strategies", "risk", "health"} <= set(snapshot)
    status, body, kind = fetch(f"{running.url}/", key=None)
    assert status == 200
    assert kind == "text/html"
    assert b"QuantTerminal" in body
    assert fetch(f"{running.url}/../../etc/passwd", key=None)[0] == 404


def test_the_key_comes_from_the_environment_or_a_private_generated_file(tmp_path: Path) -> None:
    assert api_key({"QT_API_KEY": "from-env"}, tmp_path / "k") == "from-env"
    generated = api_key({}, tmp_path / "k")
    assert len(generated) >= 24
    assert api_key({}, tmp_path / "k") == generated
    assert (tmp_path / "k").stat().st_mode & 0o777 == 0o600
