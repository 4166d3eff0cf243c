"""The HTTP API and the dashboard on a laptop: the API Lambda's Powertools resolver served by
aiohttp on loopback (each request becomes the API Gateway event the Lambda would get,
so the routes exist once), the dashboard's static files, and a server-sent-events stream.

- ``/v1/...``: the API (``adapters/api/http_api.py``), with the API key in the ``x-api-key`` header
  only (a key in a URL ends up in logs and browser history) -- from ``$QT_API_KEY``, else generated
  once into ``.quantterminal/api-key`` (mode 0600). The header twice is a 400.
- ``POST /v1/events/token`` (with the key): a token for the event stream, valid for a minute and
  for nothing else. ``/v1/events?token=...``: a snapshot of what the dashboard shows every second
  (``text/event-stream``; browsers' EventSource cannot send headers, hence a URL credential, and
  hence one that is short-lived and scoped to this read-only stream).
- ``/v1/openapi.json``: the OpenAPI document (no key: it holds no data).
- ``/``: the dashboard (no key: the page signs the operator in through ``/config.json``'s login:
  here ``/auth/``, the local stand-in of Cognito's user-pool API -- user ``operator``, the API key
  as password -- and sends the ID token as ``Authorization``, exactly as in AWS).

Every answer carries security headers (a Content-Security-Policy that allows only this origin and
no framing, nosniff, no referrer) and no server banner. Stopping gives in-flight requests two
seconds, so Ctrl-C works under load.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import mimetypes
import os
import secrets
import socket
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from quantterminal.adapters.api.http_api import OPENAPI_PATH, as_json_request
from quantterminal.adapters.api.local_login import CLIENT_ID, LocalLogin, LoginRefused, SignedTokens, same_text
from quantterminal.environment import Environment

STAGE = "/v1"
EVENTS_PATH = "/events"
EVENTS_TOKEN_PATH = "/events/token"
TOKEN_SECONDS = 60
LOGIN_PATH = "/auth/"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
KEY_FILE = Path(".quantterminal/api-key")
DASHBOARD = "quantterminal.dashboard"  # the package holding the built static files
COST_SHARE = 10  # a route costing 30 ms is recomputed at most every 300 ms
SNAPSHOT_ROUTES = ("positions", "pnl", "orders", "fills", "strategies", "risk", "health")


def api_key(environ: Mapping[str, str] | None = None, key_file: Path = KEY_FILE) -> str:
    """The local API key: ``$QT_API_KEY``, else the one in ``key_file`` (created if missing)."""
    given = Environment.read(environ).secret("api_key")
    if given:
        return given
    if key_file.exists():
        return key_file.read_text(encoding="utf-8").strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(24)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key


def proxy_event(
    method: str, path: str, query: dict[str, str], headers: dict[str, str], body: str | None
) -> dict[str, Any]:
    """The API Gateway (REST, proxy) event for one HTTP request."""
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} or None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "requestId": secrets.token_hex(8),
            "stage": STAGE.strip("/"),
            "httpMethod": method,
            "path": STAGE + path,
            "identity": {"sourceIp": "127.0.0.1"},
            "requestTimeEpoch": int(time.time() * 1000),
        },
        "body": body,
        "isBase64Encoded": False,
    }


async def _secure(request: web.Request, response: web.StreamResponse) -> None:
    """Security headers on every answer, and no server banner."""
    response.headers.update(SECURITY_HEADERS)
    response.headers.popall("Server", None)


class _SecureRequest(web.Request):
    """A request whose answer carries the security headers even when no route matched it: the
    HTTP parser's own error answers (a bad request line, header or chunk) skip the application's
    ``on_response_prepare`` signal, and would otherwise show ``Server: Python/... aiohttp/...``."""

    async def _prepare_hook(self, response: web.StreamResponse) -> None:
        await super()._prepare_hook(response)
        await _secure(self, response)


class _SecureRunner(web.AppRunner):
    """An ``AppRunner`` whose requests are ``_SecureRequest``s."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.request_factory = functools.partial(self.app._make_request, _cls=_SecureRequest)
        return server


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer of the API, encoded once and shared by every client asking the same."""

    status: int
    body: bytes
    content_type: str


@dataclass(frozen=True, slots=True)
class SharedAnswer:
    """A GET answer every client shares until it is ``interval`` old."""

    answer: Answer
    computed_at: float  # time.monotonic() when its computation started
    cost: float  # seconds the computation took

    def interval(self, floor: float) -> float:
        """How long it is reused: ``floor``, or longer for a costly route, whose computation then
        takes at most a tenth of the worker's time however many clients poll it."""
        return max(floor, COST_SHARE * self.cost)


class LocalApiServer:
    """``with LocalApiServer(app, key) as server:`` serves on ``server.url``.

    aiohttp on its own event loop in a background thread: one thread answers every connection in
    arrival order (a thread per connection lets the GIL starve some of them: seconds-long tails
    at 50 clients)."""

    def __init__(
        self,
        app: APIGatewayRestResolver,
        key: str,
        host: str = "127.0.0.1",
        port: int = 0,
        every: float = 1.0,
        cache_seconds: float = 0.1,
        stream_events: bool = True,
        login: LocalLogin | None = None,
    ) -> None:
        self.app, self.key, self.every = app, key, every
        self.login = login or LocalLogin(key)  # the dashboard's sign-in, as Cognito's in AWS
        self._tokens = SignedTokens(key)  # the event stream's
        self.stream_events = stream_events  # False: like API Gateway, no /events (the page polls)
        self.host, self.port = host, port
        # A GET answer is computed at most once per route and ``cache_seconds`` (0: every time;
        # longer for a costly route), however many clients ask; any POST drops them. The computation runs on one worker
        # thread, never on the event loop, so fifty dashboards never queue behind a query.
        self.cache_seconds = cache_seconds
        self._cache: dict[tuple[str, str], SharedAnswer] = {}
        self._computing: dict[tuple[str, str], asyncio.Future[Answer]] = {}
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-api-query")
        self._loop = asyncio.new_event_loop()
        self._runner: _SecureRunner | None = None
        self._stopping = asyncio.Event()
        self._thread = threading.Thread(target=self._loop.run_forever, name="local-api", daemon=True)
        self.url = ""

    def __enter__(self) -> LocalApiServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        self._worker.shutdown(wait=True, cancel_futures=True)

    async def _start(self) -> None:
        web_app = web.Application(client_max_size=64 * 1024)
        web_app.router.add_route("*", STAGE + "/{path:.*}", self._api)
        web_app.router.add_post(LOGIN_PATH, self._login)
        web_app.router.add_get("/config.json", self._config)
        web_app.router.add_get("/{path:.*}", self._static)
        web_app.on_response_prepare.append(_secure)
        self._runner = _SecureRunner(web_app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await self._runner.setup()
        listener = socket.create_server((self.host, self.port), backlog=256, reuse_port=False)
        self.port = int(listener.getsockname()[1])
        await web.SockSite(self._runner, listener).start()
        self.url = f"http://{self.host}:{self.port}"

    async def _stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def resolve(self, event: dict[str, Any]) -> Answer:
        """The resolver's answer to ``event``, ready to send (runs on the worker thread)."""
        answer = self.app.resolve(as_json_request(event), None)  # type: ignore[arg-type]
        return Answer(
            status=int(answer["statusCode"]),
            body=str(answer.get("body") or "").encode(),
            content_type=answer.get("headers", {}).get("Content-Type", "application/json"),
        )

    async def answer(self, event: dict[str, Any]) -> Answer:
        """The answer to ``event``: a GET's shared answer while it is fresh; when it is not, one
        new computation on the worker thread, which clients asking meanwhile do not wait for (they
        get the answer it replaces, at most two intervals old)."""
        if event["httpMethod"] != "GET":
            answer = await self._loop.run_in_executor(self._worker, self.resolve, event)
            self._cache.clear()  # after a halt or a resume, nobody reads the state before it
            return answer
        key = (event["path"], json.dumps(event.get("queryStringParameters"), sort_keys=True))
        cached = self._cache.get(key)
        age = 0.0 if cached is None else time.monotonic() - cached.computed_at
        if cached is not None and age < cached.interval(self.cache_seconds):
            return cached.answer
        computing = self._computing.get(key)
        if computing is None:
            computing = asyncio.ensure_future(self._compute(key, event))
            self._computing[key] = computing
        if cached is not None and age < 2 * cached.interval(self.cache_seconds):
            return cached.answer
        return await asyncio.shield(computing)  # a client hanging up never cancels the others' answer

    async def _compute(self, key: tuple[str, str], event: dict[str, Any]) -> Answer:
        started = time.monotonic()
        try:
            answer = await self._loop.run_in_executor(self._worker, self.resolve, event)
        finally:
            del self._computing[key]
        if self.cache_seconds > 0 and answer.status == 200:
            self._cache[key] = SharedAnswer(answer, started, time.monotonic() - started)
        return answer

    async def snapshot(self) -> dict[str, Any]:
        """What the dashboard shows, read through the API's own routes (and their shared answers)."""
        answers = await asyncio.gather(
            *(self.answer(proxy_event("GET", f"/{r}", {}, {}, None)) for r in SNAPSHOT_ROUTES)
        )
        bodies = {route: json.loads(answer.body) for route, answer in zip(SNAPSHOT_ROUTES, answers, strict=True)}
        return {"at": datetime.now(UTC).isoformat(), **bodies}

    def authorised(self, headers: dict[str, str]) -> bool:
        """The operator's ID token (``Authorization``, as API Gateway's Cognito authorizer takes
        it), or the API key (``x-api-key``, for scripts); never from the URL."""
        token = headers.get("authorization", "")
        return (bool(token) and self.login.valid_id_token(token)) or same_text(headers.get("x-api-key", ""), self.key)

    async def _config(self, request: web.Request) -> web.StreamResponse:
        """Where the dashboard signs in: here, the local stand-in of Cognito's API."""
        return web.json_response({"login": {"endpoint": LOGIN_PATH, "clientId": CLIENT_ID}})

    async def _login(self, request: web.Request) -> web.StreamResponse:
        """Cognito's ``InitiateAuth`` / ``RespondToAuthChallenge`` (see ``local_login``)."""
        try:
            body = json.loads(await request.text())
            if not isinstance(body, dict):
                raise ValueError("not an object")
            answer = self.login.answer(request.headers.get("x-amz-target", ""), body)
        except LoginRefused as exc:
            return web.json_response({"__type": exc.kind, "message": str(exc)}, status=400)
        except ValueError:
            return web.json_response({"__type": "SerializationException", "message": "bad request body"}, status=400)
        return web.json_response(answer, content_type="application/x-amz-json-1.1")

    def events_token(self, now: float | None = None) -> str:
        """A token that opens the event stream until ``TOKEN_SECONDS`` from now, and nothing else."""
        return self._tokens.issue("events", (time.time() if now is None else now) + TOKEN_SECONDS)

    def valid_events_token(self, token: str, now: float | None = None) -> bool:
        return self._tokens.valid(token, "events", time.time() if now is None else now)

    async def _api(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        query = dict(request.query)
        if len(request.headers.getall("x-api-key", [])) > 1:
            return web.json_response({"message": "send the x-api-key header once"}, status=400)
        headers = {k.lower(): v for k, v in request.headers.items()}
        if path == EVENTS_PATH and self.stream_events:
            if not self.valid_events_token(query.get("token", "")):
                return web.json_response({"message": "missing or expired token (POST /events/token)"}, status=401)
            return await self._events(request)
        if path != OPENAPI_PATH and not self.authorised(headers):
            return web.json_response({"message": "missing or wrong API key (x-api-key header)"}, status=401)
        if path == EVENTS_TOKEN_PATH and self.stream_events and request.method == "POST":
            return web.json_response({"token": self.events_token(), "expires_in": TOKEN_SECONDS})
        body = await request.text() if request.can_read_body else None
        answer = await self.answer(proxy_event(request.method, path, query, headers, body))
        return web.Response(status=answer.status, body=answer.body, content_type=answer.content_type)

    async def _static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["path"] or "index.html"
        files = resources.files(DASHBOARD) / "static"
        target = files.joinpath(*[p for p in name.split("/") if p not in ("", ".", "..")])
        if not target.is_file():
            return web.Response(status=404, text="not found")
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return web.Response(body=target.read_bytes(), content_type=kind)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            while not self._stopping.is_set():
                data = json.dumps(await self.snapshot(), default=str)
                await response.write(f"event: snapshot\ndata: {data}\n\n".encode())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=self.every)
        except (ConnectionResetError, asyncio.CancelledError):
            pass  # the page went away, or the server is stopping
        return response
