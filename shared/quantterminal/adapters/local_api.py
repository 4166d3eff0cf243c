"""The HTTP API and the dashboard on a laptop: the API Lambda's Powertools resolver served by a
threaded HTTP server on loopback (each request becomes the API Gateway event the Lambda would get,
so the routes exist once), the dashboard's static files, and a server-sent-events stream.

- ``/v1/...``: the API (``adapters/http_api.py``), with the API key in ``x-api-key`` -- from
  ``$QT_API_KEY``, else generated once into ``.quantterminal/api-key`` (mode 0600).
- ``/v1/events?key=...``: a snapshot of what the dashboard shows every second (``text/event-stream``;
  the key goes in the query because browsers' EventSource cannot send headers).
- ``/v1/openapi.json``: the OpenAPI document (no key: it holds no data).
- ``/``: the dashboard (no key: the page asks for it, or reads it from the URL's ``#key=``).
"""

from __future__ import annotations

import hmac
import json
import logging
import mimetypes
import os
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from quantterminal.adapters.http_api import OPENAPI_PATH, as_json_request

log = logging.getLogger(__name__)
STAGE = "/v1"
EVENTS_PATH = "/events"
KEY_FILE = Path(".quantterminal/api-key")
DASHBOARD = "quantterminal.dashboard"  # the package holding the built static files


def api_key(environ: dict[str, str] | None = None, key_file: Path = KEY_FILE) -> str:
    """The local API key: ``$QT_API_KEY``, else the one in ``key_file`` (created if missing)."""
    env = os.environ if environ is None else environ
    if env.get("QT_API_KEY"):
        return env["QT_API_KEY"]
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


class LocalApiServer:
    """``with LocalApiServer(app, key, snapshot) as server:`` serves on ``server.url``."""

    def __init__(
        self,
        app: APIGatewayRestResolver,
        key: str,
        snapshot: Callable[[], dict[str, Any]],
        host: str = "127.0.0.1",
        port: int = 0,
        every: float = 1.0,
    ) -> None:
        self.app, self.key, self.snapshot, self.every = app, key, snapshot, every
        self._resolve_lock = threading.Lock()  # the resolver keeps per-request state on itself
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_address[1]}"

    def __enter__(self) -> LocalApiServer:
        threading.Thread(target=self._server.serve_forever, name="local-api", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def resolve(self, event: dict[str, Any]) -> dict[str, Any]:
        with self._resolve_lock:
            return self.app.resolve(as_json_request(event), None)  # type: ignore[arg-type]  # no Lambda context here

    def authorised(self, headers: dict[str, str], query: dict[str, str]) -> bool:
        given = headers.get("x-api-key") or query.get("key") or ""
        return hmac.compare_digest(given.encode(), self.key.encode())

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # requests are not worth a line each
                return

            def do_GET(self) -> None:
                self._dispatch("GET")

            def do_POST(self) -> None:
                self._dispatch("POST")

            def _dispatch(self, method: str) -> None:
                parts = urlsplit(self.path)
                query = dict(parse_qsl(parts.query))
                headers = {k.lower(): v for k, v in self.headers.items()}
                if not parts.path.startswith(STAGE + "/"):
                    self._static(parts.path)
                    return
                path = parts.path[len(STAGE) :]
                if path != OPENAPI_PATH and not server.authorised(headers, query):
                    self._send(401, "application/json", b'{"message": "missing or wrong API key (x-api-key)"}')
                    return
                if path == EVENTS_PATH:
                    self._events()
                    return
                length = int(headers.get("content-length") or 0)
                body = self.rfile.read(length).decode("utf-8", errors="replace") if length else None
                query.pop("key", None)
                answer = server.resolve(proxy_event(method, path, query, headers, body))
                content_type = answer.get("headers", {}).get("Content-Type", "application/json")
                self._send(answer["statusCode"], content_type, str(answer.get("body") or "").encode())

            def _send(self, status: int, content_type: str, body: bytes, extra: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                for name, value in (extra or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def _static(self, path: str) -> None:
                name = "index.html" if path in ("", "/") else path.lstrip("/")
                files = resources.files(DASHBOARD) / "static"
                target = files.joinpath(*[p for p in name.split("/") if p not in ("", ".", "..")])
                if not target.is_file():
                    self._send(404, "text/plain", b"not found")
                    return
                kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
                self._send(200, kind, target.read_bytes())

            def _events(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                try:
                    while not server._stopping.is_set():
                        data = json.dumps(server.snapshot(), default=str)
                        self.wfile.write(f"event: snapshot\ndata: {data}\n\n".encode())
                        self.wfile.flush()
                        server._stopping.wait(server.every)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the page went away

        return Handler


def dashboard_snapshot(
    get: Callable[[str], Any], now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> Callable[[], dict[str, Any]]:
    """What the dashboard shows, read through the API's own routes (``get(path)`` -> body)."""

    def snapshot() -> dict[str, Any]:
        return {
            "at": now().isoformat(),
            "positions": get("/positions"),
            "pnl": get("/pnl"),
            "orders": get("/orders"),
            "fills": get("/fills"),
            "strategies": get("/strategies"),
            "risk": get("/risk"),
            "health": get("/health"),
        }

    return snapshot
