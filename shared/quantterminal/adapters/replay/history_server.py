"""A local HTTP server answering the historical bar APIs from a list of minute bars: Alpaca's
``GET /v2/stocks/bars`` and Polygon's ``GET /v2/aggs/ticker/{ticker}/range/1/{minute|day}/...``.

It is the replay's "historical API" (gap backfill runs through alpaca-py against it exactly as it
does against Alpaca) and the loopback stand-in ``qterm data download`` is tested against. It
behaves as the providers document (see ``adapters/market_data/bar_download`` for the sources):
pages of at most ``limit`` bars (Alpaca: default 1,000, at most 10,000, continued by an opaque
``next_page_token``; Polygon: default 5,000, at most 50,000, continued by ``next_url``); daily
bars built from the session's minutes and stamped at midnight New York; keys checked when given
(Alpaca 401/403 ``{"message"}``; Polygon 401 ``{"status": "ERROR"}``); 422 for bad parameters;
403 for SIP data of the last 15 minutes; a rate limit (``rate_limit`` requests a ``window``):
Alpaca's answers carry ``X-RateLimit-Limit``/``-Remaining``/``-Reset`` and past the limit both
answer 429. ``fail_next`` makes the next requests fail with HTTP 500, for retry tests.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from bisect import bisect_left
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from quantterminal.core.market_data.timeframes import resample
from quantterminal.core.models import Bar

_SIP_DELAY = timedelta(minutes=15)


class BadRequestError(ValueError):
    """A request the real API would refuse with 422 (Alpaca) or 400 (Polygon)."""


class HistoryServer:
    """``with HistoryServer(bars) as history:``; ``history.url`` is the base URL for alpaca-py's
    ``url_override`` and for ``qterm data download --url``."""

    def __init__(
        self,
        bars: list[Bar],
        page_size: int = 10_000,
        keys: tuple[str, str] | None = None,
        polygon_key: str | None = None,
        rate_limit: int | None = None,
        window: float = 60.0,
    ) -> None:
        self.bars = sorted(bars, key=lambda b: (b.symbol, b.timestamp))
        self.page_size = page_size  # the most this server puts on a page, whatever the limit asked
        self.keys, self.polygon_key = keys, polygon_key
        self.rate_limit, self.window = rate_limit, window
        self.requests = 0
        self.polygon_requests = 0  # of them, to Polygon's aggregates (the rest: Alpaca's bars)
        self.refused = 0  # answered 429
        self.fail_next = 0
        # A server that misbehaves, to show the client does not trust it: "repeat_token" (every
        # page names the same next page), "overlap" (each page repeats half the one before),
        # "reverse" (a page's bars newest first), "list_body" (a 200 holding a JSON list).
        self.misbehave: str | None = None
        self.cut_next = 0  # answers whose body is cut off mid-stream (the connection then closes)
        self._window_start, self._in_window = time.time(), 0
        self._lock = threading.Lock()
        self._series: dict[tuple[str, bool], tuple[list[Bar], list[datetime]]] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> HistoryServer:
        threading.Thread(target=self._server.serve_forever, name="history-server", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def between(self, symbol: str, daily: bool, start: datetime, end: datetime) -> list[Bar]:
        """``symbol``'s minute (or daily) bars starting in ``[start, end)``."""
        key = (symbol, daily)
        if key not in self._series:
            minutes = [b for b in self.bars if b.symbol == symbol]
            series = resample(minutes, "1day") if daily else minutes
            self._series[key] = (series, [b.timestamp for b in series])
        series, stamps = self._series[key]
        return series[bisect_left(stamps, start) : bisect_left(stamps, end)]

    def _admit(self) -> tuple[bool, dict[str, str]]:
        """Count a request against the rate limit: (allowed, the rate-limit headers)."""
        with self._lock:
            self.requests += 1
            if self.rate_limit is None:
                return True, {}
            now = time.time()
            if now - self._window_start >= self.window:
                self._window_start, self._in_window = now, 0
            allowed = self._in_window < self.rate_limit
            self._in_window += allowed
            if not allowed:
                self.refused += 1
            headers = {
                "X-RateLimit-Limit": str(self.rate_limit),
                "X-RateLimit-Remaining": str(self.rate_limit - self._in_window),
                "X-RateLimit-Reset": str(int(self._window_start + self.window + 0.999)),
            }
            return allowed, headers

    def _failing(self) -> bool:
        with self._lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                return True
            return False

    def alpaca(self, query: dict[str, str], headers: Any) -> tuple[int, dict[str, Any]]:
        if self.keys is not None:
            given = (headers.get("APCA-API-KEY-ID"), headers.get("APCA-API-SECRET-KEY"))
            if None in given:
                return 401, {"message": "unauthorized."}
            if given != self.keys:
                return 403, {"message": "forbidden."}
        symbols = query.get("symbols", "").split(",")
        frame = query.get("timeframe", "")
        if frame not in ("1Min", "1Day"):
            raise BadRequestError(f"invalid timeframe: {frame}")
        limit = int(query.get("limit", "1000"))
        if not 1 <= limit <= 10_000:
            raise BadRequestError(f"invalid limit: {limit} (must be between 1 and 10000)")
        if query.get("adjustment", "raw") not in ("raw", "split", "dividend", "all"):
            raise BadRequestError(f"invalid adjustment: {query['adjustment']}")
        start, end = _time(query.get("start")), _time(query.get("end"))
        if start >= end:
            raise BadRequestError("end should not be before start")
        if query.get("feed", "iex") == "sip" and end > datetime.now(UTC) - _SIP_DELAY:
            return 403, {"message": "subscription does not permit querying recent SIP data"}
        offset = _offset(query.get("page_token"))
        matching = [b for s in sorted(symbols) for b in self.between(s, frame == "1Day", start, end)]
        size = min(limit, self.page_size)
        if self.misbehave == "overlap" and offset:
            offset = max(0, offset - size // 2)
        page = matching[offset : offset + size]
        if self.misbehave == "reverse":
            page = page[::-1]
        by_symbol: dict[str, list[dict[str, Any]]] = {}
        for b in page:
            row = {"t": _iso(b.timestamp), "o": b.open, "h": b.high, "l": b.low, "c": b.close, "v": b.volume}
            by_symbol.setdefault(b.symbol, []).append(row | {"n": b.trade_count or 0, "vw": b.vwap or b.close})
        following = offset + len(page)
        token = _token(following) if following < len(matching) else None
        if self.misbehave == "repeat_token" and token is not None:
            token = _token(size)  # always "the second page": a client that trusts it never ends
        return 200, {"bars": by_symbol, "next_page_token": token, "currency": "USD"}

    def polygon(self, path: str, query: dict[str, str], headers: Any) -> tuple[int, dict[str, Any]]:
        if self.polygon_key is not None:
            given = query.get("apiKey") or (headers.get("Authorization") or "").removeprefix("Bearer ")
            if given != self.polygon_key:
                return 401, {"status": "ERROR", "request_id": "local", "error": "Unknown API Key"}
        parts = path.split("/")  # '', v2, aggs, ticker, T, range, mult, span, from, to
        if len(parts) != 10 or parts[6] != "1" or parts[7] not in ("minute", "day"):
            raise BadRequestError("this server answers 1-minute and 1-day aggregates")
        symbol, span = parts[4], parts[7]
        start, last = _polygon_time(parts[8]), _polygon_time(parts[9], end=True)
        limit = int(query.get("limit", "5000"))
        if not 1 <= limit <= 50_000:
            raise BadRequestError(f"limit must be between 1 and 50000, got {limit}")
        offset = _offset(query.get("cursor"))
        matching = self.between(symbol, span == "day", start, last + timedelta(microseconds=1))
        page = matching[offset : offset + min(limit, self.page_size)]
        results = [
            {"v": b.volume, "vw": b.vwap or b.close, "o": b.open, "c": b.close, "h": b.high, "l": b.low}
            | {"t": int(b.timestamp.timestamp() * 1000), "n": b.trade_count or 0}
            for b in page
        ]
        body: dict[str, Any] = {
            "ticker": symbol,
            "queryCount": len(page),
            "resultsCount": len(page),
            "adjusted": query.get("adjusted", "true") == "true",
            "results": results,
            "status": "OK",
            "request_id": f"local-{self.requests}",
            "count": len(page),
        }
        if offset + len(page) < len(matching):
            body["next_url"] = f"{self.url}{path}?cursor={_token(offset + len(page))}&limit={limit}"
        return 200, body

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        served = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                polygon = parts.path.startswith("/v2/aggs/ticker/")
                served.polygon_requests += polygon
                allowed, limits = served._admit()
                headers = {} if polygon else limits  # Polygon documents no rate-limit headers
                if not allowed:
                    message = "You've exceeded the maximum requests per minute, please wait or upgrade your plan."
                    body = {"status": "ERROR", "error": message} if polygon else {"message": "too many requests."}
                    self._send(429, body, headers)
                    return
                if served._failing():
                    self._send(500, {"message": "internal server error"}, headers)
                    return
                if served.misbehave == "list_body":
                    self._send(200, ["not", "an", "object"], headers)
                    return
                try:
                    if parts.path == "/v2/stocks/bars":
                        status, body = served.alpaca(query, self.headers)
                    elif polygon:
                        status, body = served.polygon(parts.path, query, self.headers)
                    else:
                        status, body = 404, {"message": "not found"}
                except (BadRequestError, ValueError, KeyError) as exc:
                    status = 400 if polygon else 422
                    body = {"status": "ERROR", "error": str(exc)} if polygon else {"message": str(exc)}
                self._send(status, body, headers)

            def _send(self, status: int, body: object, headers: dict[str, str]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                with served._lock:
                    cut = served.cut_next > 0
                    served.cut_next -= cut
                if cut:  # half the promised body, then the connection drops
                    self.wfile.write(data[: len(data) // 2])
                    self.close_connection = True
                    return
                self.wfile.write(data)

        return Handler


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _time(raw: str | None) -> datetime:
    if not raw:
        raise BadRequestError("start and end are required here")
    try:
        ts = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequestError(f"invalid time: {raw}") from None
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def _polygon_time(raw: str, end: bool = False) -> datetime:
    """Polygon's ``from``/``to``: millisecond stamps, or dates (a ``to`` date includes its day)."""
    if raw.isdigit():
        return datetime.fromtimestamp(int(raw) / 1000, UTC)
    day = datetime.fromisoformat(raw).replace(tzinfo=UTC)
    return day + timedelta(days=1) - timedelta(microseconds=1) if end else day


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("offset:"))
    except ValueError:
        raise BadRequestError(f"invalid page token: {token}") from None
