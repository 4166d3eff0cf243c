"""The local API server: the Lambda's resolver over HTTP on loopback, behind the API key, with the
OpenAPI document, the dashboard's files and its server-sent events."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from quantterminal.adapters.api.http_api import build_api
from quantterminal.adapters.api.local_api import LocalApiServer, api_key
from quantterminal.adapters.broker.simulated_broker import SimulatedBroker
from quantterminal.adapters.ledger.sqlite_ledger import SqliteLedger
from quantterminal.adapters.state.memory_state import MemoryStateStore
from quantterminal.wiring.runtime import Runtime

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
    status, body, _ = fetch(f"{running.url}/v1/events/token", body={})
    assert status == 200
    token = json.loads(body)["token"]
    with urllib.request.urlopen(f"{running.url}/v1/events?token={token}", timeout=5) as stream:
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


def raw(
    url: str, method: str = "GET", headers: list[tuple[str, str]] = (), body: bytes | None = None
) -> tuple[int, Any]:  # type: ignore[assignment]
    """A request with exactly these headers (repeats included), through http.client."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.putrequest(method, parts.path + (f"?{parts.query}" if parts.query else ""))
    for name, value in headers:
        conn.putheader(name, value)
    if body is not None:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    response = conn.getresponse()
    result = response.status, response
    response.read()
    conn.close()
    return result


def test_the_key_is_taken_from_the_header_only_and_never_for_a_mutation_in_the_url(
    server: tuple[LocalApiServer, Runtime],
) -> None:
    running, runtime = server
    assert fetch(f"{running.url}/v1/positions?key={KEY}", key=None)[0] == 401
    assert fetch(f"{running.url}/v1/halt?key={KEY}", key=None, body={"reason": "via the url"})[0] == 401
    assert fetch(f"{running.url}/v1/events?key={KEY}", key=None)[0] == 401
    assert runtime.store.get_risk_state("paper").halted is False


def test_an_event_token_expires_and_opens_nothing_but_the_stream(server: tuple[LocalApiServer, Runtime]) -> None:
    running, _ = server
    old = running.events_token(now=0)  # expired long ago
    assert fetch(f"{running.url}/v1/events?token={old}", key=None)[0] == 401
    forged = running.events_token().split(".")[0] + ".deadbeef"
    assert fetch(f"{running.url}/v1/events?token={forged}", key=None)[0] == 401
    token = running.events_token()
    assert fetch(f"{running.url}/v1/positions?token={token}", key=None)[0] == 401
    assert fetch(f"{running.url}/v1/halt?token={token}", key=None, body={"reason": "x"})[0] == 401
    assert fetch(f"{running.url}/v1/events/token", key=None, body={})[0] == 401


def test_hostile_requests_are_4xx_and_change_nothing(server: tuple[LocalApiServer, Runtime]) -> None:
    running, runtime = server
    deep = ('{"reason": ' + "[" * 30_000 + "]" * 30_000 + "}").encode()
    status, _ = raw(f"{running.url}/v1/halt", "POST", [("x-api-key", KEY), ("content-type", "application/json")], deep)
    assert status == 400
    assert raw(f"{running.url}/v1/positions", headers=[("x-api-key", KEY), ("x-api-key", KEY)])[0] == 400
    assert raw(f"{running.url}/v1/positions", headers=[("x-api-key", "wrong"), ("x-api-key", KEY)])[0] == 400
    status, body, _ = fetch(f"{running.url}/v1/strategies/nonesuch/disable", body={"reason": "x"})
    assert (status, json.loads(body)["message"]) == (404, "unknown strategy 'nonesuch'")
    assert fetch(f"{running.url}/v1/halt", body={"reason": "   "})[0] == 422
    # A NUL (or any control character) in a reason is refused whole: nothing halted, nothing recorded
    assert fetch(f"{running.url}/v1/halt", body={"reason": "stop\u0000now"})[0] == 422
    assert fetch(f"{running.url}/v1/halt", body={"reason": "line\nbreak"})[0] == 422
    # A key header holding a byte that is not text is just a wrong key
    assert raw(f"{running.url}/v1/positions", headers=[("x-api-key", b"\xff" + KEY.encode())])[0] == 401  # type: ignore[list-item]
    assert raw(f"{running.url}/v1/events?token=9999999999.%FF", headers=[])[0] in (400, 401)
    assert runtime.store.get_risk_state("paper").halted is False


def test_an_internal_failure_is_a_500_not_the_clients_mistake(
    server: tuple[LocalApiServer, Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    running, runtime = server

    def broken(*args: object) -> None:
        raise KeyError("a bug inside, not an unknown strategy")

    monkeypatch.setattr(type(runtime.store), "get_risk_state", broken)
    status, body, _ = fetch(f"{running.url}/v1/risk")
    assert status == 500
    assert "internal error" in json.loads(body)["message"]
    assert "strategy" not in json.loads(body)["message"]


def test_every_answer_has_security_headers_and_no_server_banner(server: tuple[LocalApiServer, Runtime]) -> None:
    running, _ = server
    for path, headers in (("/", []), ("/app.js", []), ("/v1/positions", [("x-api-key", KEY)]), ("/v1/x", [])):
        _, response = raw(f"{running.url}{path}", headers=headers)
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], path
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "Server" not in response.headers, path


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",  # no method, path or version
        b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",  # a NUL in the path
        b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",  # an unknown version
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",  # a header with no colon
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"POST /v1/halt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",  # a bad chunk size
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n",  # a header over the limit
    ],
)
def test_the_http_parsers_own_answers_carry_the_security_headers(
    server: tuple[LocalApiServer, Runtime], request_bytes: bytes
) -> None:
    """A request aiohttp cannot parse never reaches a route; its 4xx still carries the headers."""
    running, runtime = server
    with socket.create_connection((running.host, running.port), timeout=5) as connection:
        connection.sendall(request_bytes)
        answer = b""
        while chunk := connection.recv(65536):  # the parser's answers close the connection
            answer += chunk
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    headers = dict(line.split(": ", 1) for line in head[1:])
    assert 400 <= status < 500, head[0]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "Server" not in headers, headers.get("Server")
    assert runtime.store.get_risk_state("paper").halted is False


def cognito(url: str, operation: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """One call to the login endpoint, as the dashboard makes it (Cognito's JSON 1.1 protocol)."""
    request = urllib.request.Request(
        url + "/auth/",
        data=json.dumps({"ClientId": "local", **body}).encode(),
        headers={
            "content-type": "application/x-amz-json-1.1",
            "x-amz-target": f"AWSCognitoIdentityProviderService.{operation}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_the_operator_signs_in_as_with_cognito_and_the_id_token_opens_the_api(
    server: tuple[LocalApiServer, Runtime],
) -> None:
    running, _ = server
    with urllib.request.urlopen(running.url + "/config.json", timeout=5) as response:
        assert json.load(response) == {"login": {"endpoint": "/auth/", "clientId": "local"}}
    password = {"AuthFlow": "USER_PASSWORD_AUTH", "AuthParameters": {"USERNAME": "operator", "PASSWORD": "nope"}}
    status, refused = cognito(running.url, "InitiateAuth", password)
    assert (status, refused["__type"]) == (400, "NotAuthorizedException")
    password["AuthParameters"]["PASSWORD"] = KEY
    status, answer = cognito(running.url, "InitiateAuth", password)
    assert status == 200
    tokens = answer["AuthenticationResult"]
    assert tokens["ExpiresIn"] == 3600
    assert raw(f"{running.url}/v1/risk", headers=[("authorization", tokens["IdToken"])])[0] == 200
    assert raw(f"{running.url}/v1/risk", headers=[("authorization", tokens["AccessToken"])])[0] == 401
    assert raw(f"{running.url}/v1/risk", headers=[("authorization", tokens["IdToken"] + "x")])[0] == 401
    refresh = {"AuthFlow": "REFRESH_TOKEN_AUTH", "AuthParameters": {"REFRESH_TOKEN": tokens["RefreshToken"]}}
    status, again = cognito(running.url, "InitiateAuth", refresh)
    assert status == 200
    assert "RefreshToken" not in again["AuthenticationResult"]
    assert cognito(running.url, "InitiateAuth", {**password, "ClientId": "another"})[0] == 400
    assert cognito(running.url, "SignUp", {"Username": "mallory", "Password": "x" * 20})[0] == 400  # no sign-up
