"""Historical bars over HTTP, a page at a time: Alpaca's ``GET /v2/stocks/bars`` and Polygon's
aggregates (``GET /v2/aggs/ticker/{ticker}/range/1/{minute|day}/{from}/{to}``).

What each provider documents, and what this follows:
- Alpaca (docs.alpaca.markets, "Historical bars"): keys in the ``APCA-API-KEY-ID`` /
  ``APCA-API-SECRET-KEY`` headers; ``timeframe`` ``1Min``/``1Day``, ``feed`` ``iex``/``sip``,
  ``adjustment`` ``raw``/``split``/``dividend``/``all``, ``limit`` at most 10,000 a page; the answer
  ``{"bars": {SYMBOL: [...]}, "next_page_token": ...}`` continues while the token is not null.
  Every answer carries ``X-RateLimit-Limit``/``-Remaining``/``-Reset`` (Unix seconds); past the
  limit, HTTP 429. Errors are ``{"message": ...}`` (403 for a plan without recent SIP data).
- Polygon (polygon.io/docs, "Aggregates (Bars)"): the key as ``Authorization: Bearer``; ``from`` and
  ``to`` inclusive (millisecond stamps here), ``adjusted`` for splits, ``limit`` at most 50,000; the
  answer's ``results`` continue at ``next_url`` (which carries no key: it is sent in the header, and
  only to the host we were given). Free plans allow 5 requests a minute; past it, HTTP 429.

Alpaca-py's client pages by itself but hides the pages (no progress, no resume between them) and
sleeps through 429s on its own, so these few requests are made here, with ``requests`` (which
alpaca-py brings): timeouts on every request, retries with backoff and full jitter on 5xx and
dropped connections, and pacing by the rate-limit headers (the wait is reported, not silent).
Daily bars keep the providers' stamp: midnight New York of the session's date.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests

from quantterminal.adapters.market_data.bar_columns import first_bad_row
from quantterminal.adapters.market_data.feed_frames import bar
from quantterminal.adapters.retry import backoff_delay, rate_limit_wait
from quantterminal.core.models import Bar
from quantterminal.errors import DownloadError

ALPACA_URL = "https://data.alpaca.markets"
POLYGON_URL = "https://api.polygon.io"
_ATTEMPTS = 6  # for 5xx, timeouts and dropped connections
_RATE_LIMITED_TIMES = 20  # 429s in a row before giving up
_MAX_WAIT = 65.0  # seconds; both providers' windows are a minute


class BarPages(Protocol):
    """A provider's bars for one symbol and range, a page at a time."""

    name: str

    def pages(self, symbol: str, start: datetime, end: datetime, timeframe: str) -> Iterator[list[Bar]]:
        """Bars starting in ``[start, end)``, oldest first, one list per page."""
        ...


class PacedHttp:
    """GET requests that retry what is worth retrying and keep to the server's rate limit.

    ``on_wait(seconds, why)`` is told before every wait longer than a moment, so a progress bar can
    say "rate limited" instead of looking stuck."""

    def __init__(
        self,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        on_wait: Callable[[float, str], None] = lambda seconds, why: None,
        sleep: Callable[[float], None] = time.sleep,
        wall: Callable[[], float] = time.time,
        attempts: int = _ATTEMPTS,
        rate_limited_times: int = _RATE_LIMITED_TIMES,
    ) -> None:
        # (a download waits out a server patiently; a live feed's backfill gives up quickly and
        # counts the gap as unfilled, to be repaired by the scheduled backfill)
        self.attempts, self.rate_limited_times = attempts, rate_limited_times
        self.session = session or requests.Session()
        self.timeout = timeout
        self.on_wait = on_wait
        self.sleep = sleep
        self.wall = wall
        self.requests = 0
        self.waited = 0.0
        self._not_before = 0.0  # wall-clock seconds: the rate limit's reset after the last answer

    def get(self, url: str, params: Mapping[str, str] | None, headers: Mapping[str, str], what: str) -> Any:
        """The JSON body of a 200 answer; ``DownloadError`` for a refusal or a server that stays down."""
        failures = limited = 0
        while True:
            self._pause(self._not_before - self.wall(), "rate limit reached; waiting for its reset")
            self.requests += 1
            try:
                answer = self.session.get(url, params=params, headers=headers, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                # ChunkedEncodingError: the body was cut off mid-stream -- asked again like any drop
                failures = self._failed(failures, f"{what}: {type(exc).__name__}")
                continue
            self._note_limit(answer.headers)
            if answer.status_code == 200:
                try:
                    body = answer.json()
                except ValueError:
                    failures = self._failed(failures, f"{what}: an answer that is not JSON")
                    continue
                if not isinstance(body, dict):
                    raise DownloadError(f"{what}: the server answered {type(body).__name__}, not a JSON object")
                return body
            if answer.status_code == 429:
                limited += 1
                if limited >= self.rate_limited_times:
                    raise DownloadError(f"{what}: still rate limited after {limited} tries (HTTP 429)")
                self._pause(self._limit_wait(answer.headers, limited), "rate limited (HTTP 429)")
                continue
            if answer.status_code >= 500:
                failures = self._failed(failures, f"{what}: HTTP {answer.status_code}")
                continue
            raise DownloadError(f"{what}: HTTP {answer.status_code}: {_message(answer)}")

    def _failed(self, failures: int, problem: str) -> int:
        if failures + 1 >= self.attempts:
            raise DownloadError(f"{problem} ({self.attempts} tries); run the same command again to resume")
        self._pause(backoff_delay(failures, 0.5, 30.0), f"{problem}; retrying")
        return failures + 1

    def _note_limit(self, headers: Mapping[str, str]) -> None:
        """After the last request of a window, wait for its reset before the next one."""
        try:
            if headers.get("X-RateLimit-Remaining") == "0" and headers.get("X-RateLimit-Reset"):
                self._not_before = float(headers["X-RateLimit-Reset"])
        except ValueError:
            pass  # an unreadable header: the server's 429 will say it

    def _limit_wait(self, headers: Mapping[str, str], limited: int) -> float:
        wait = backoff_delay(limited - 1, 1.0, _MAX_WAIT)
        asked = rate_limit_wait(headers, self.wall())
        return min(wait if asked is None else max(wait, asked), _MAX_WAIT)

    def _pause(self, seconds: float, why: str) -> None:
        if seconds <= 0:
            return
        seconds = min(seconds, _MAX_WAIT)
        if seconds >= 0.5:
            self.on_wait(seconds, why)
        self.waited += seconds
        self.sleep(seconds)


def _message(answer: requests.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text.strip()[:200] or answer.reason
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or body)[:200]
    return str(body)[:200]


def _stamp(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _checked(provider: str, symbol: str, start: datetime, raw: Mapping[str, Any]) -> Bar:
    try:
        return bar(symbol, start, raw)
    except (KeyError, TypeError, ValueError) as exc:
        raise DownloadError(f"{provider} sent a bad {symbol} bar at {_stamp(start)}: {exc}") from None


def _page(provider: str, symbol: str, stamps: list[datetime], rows: list[Mapping[str, Any]]) -> list[Bar]:
    """A page's bars, checked a column at a time (as the file loaders check them); a page with a
    bad row is checked row by row, which names the row and the problem."""
    import numpy as np  # noqa: PLC0415 - pandas brings it; only a download pays for the import

    try:
        o, h, lo, c, v = (np.array([r[k] for r in rows], dtype="float64") for k in ("o", "h", "l", "c", "v"))
        vw = np.array([r.get("vw", np.nan) for r in rows], dtype="float64")
        n = np.array([r.get("n", np.nan) for r in rows], dtype="float64")
        ns = np.array([t.timestamp() for t in stamps], dtype="float64")
        bad = first_bad_row(ns, o, h, lo, c, v) is not None or bool(((vw <= 0) | (n < 0) | (n % 1 != 0)).any())
    except (KeyError, TypeError, ValueError):
        bad = True
    if bad:
        return [_checked(provider, symbol, t, r) for t, r in zip(stamps, rows, strict=True)]
    return [
        Bar(symbol, t, op, hi, low, cl, int(vol), None if math.isnan(avg) else avg, None if math.isnan(k) else int(k))
        for t, op, hi, low, cl, vol, avg, k in zip(
            stamps, o.tolist(), h.tolist(), lo.tolist(), c.tolist(), v.tolist(), vw.tolist(), n.tolist(), strict=True
        )
    ]


class AlpacaBars:
    """Alpaca's historical bars (see the module docs)."""

    name = "alpaca"
    ADJUSTMENTS = ("raw", "split", "dividend", "all")

    def __init__(
        self,
        key: str,
        secret: str,
        http: PacedHttp,
        url: str = ALPACA_URL,
        feed: str = "iex",
        adjustment: str = "raw",
        page_limit: int = 10_000,
    ) -> None:
        if feed not in ("iex", "sip"):
            raise DownloadError(f"alpaca feed must be iex or sip, not {feed!r}")
        if adjustment not in self.ADJUSTMENTS:
            raise DownloadError(f"alpaca adjustment must be one of {', '.join(self.ADJUSTMENTS)}, not {adjustment!r}")
        self.http, self.url, self.feed, self.adjustment, self.page_limit = (
            http,
            url.rstrip("/"),
            feed,
            adjustment,
            page_limit,
        )
        self._headers = {"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret}

    def pages(self, symbol: str, start: datetime, end: datetime, timeframe: str) -> Iterator[list[Bar]]:
        params = {
            "symbols": symbol,
            "timeframe": {"1min": "1Min", "1day": "1Day"}[timeframe],
            "start": _stamp(start),
            "end": _stamp(end),
            "limit": str(self.page_limit),
            "adjustment": self.adjustment,
            "feed": self.feed,
            "sort": "asc",
        }
        seen: set[str] = set()
        while True:
            body = self.http.get(f"{self.url}/v2/stocks/bars", params, self._headers, f"alpaca bars {symbol}")
            rows = (body.get("bars") or {}).get(symbol) or []
            page = _page(self.name, symbol, [_parse_time(r.get("t")) for r in rows], rows)
            yield [b for b in page if start <= b.timestamp < end]
            token = body.get("next_page_token")
            if not token:
                return
            if str(token) in seen:  # no progress: a server that names a page twice would be followed forever
                raise DownloadError(f"alpaca bars {symbol}: the server named page {token!r} twice; stopped")
            seen.add(str(token))
            params = {**params, "page_token": str(token)}


class PolygonBars:
    """Polygon's aggregates (see the module docs)."""

    name = "polygon"
    ADJUSTMENTS = ("raw", "split")

    def __init__(
        self, key: str, http: PacedHttp, url: str = POLYGON_URL, adjustment: str = "split", page_limit: int = 50_000
    ) -> None:
        if adjustment not in self.ADJUSTMENTS:
            raise DownloadError(f"polygon adjusts for splits only: adjustment raw or split, not {adjustment!r}")
        self.http, self.url, self.adjustment, self.page_limit = http, url.rstrip("/"), adjustment, page_limit
        self._headers = {"Authorization": f"Bearer {key}"}

    def pages(self, symbol: str, start: datetime, end: datetime, timeframe: str) -> Iterator[list[Bar]]:
        span = {"1min": "minute", "1day": "day"}[timeframe]
        first_ms, last_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000) - 1  # "to" is inclusive
        url = f"{self.url}/v2/aggs/ticker/{symbol}/range/1/{span}/{first_ms}/{last_ms}"
        params: dict[str, str] | None = {
            "adjusted": "true" if self.adjustment == "split" else "false",
            "sort": "asc",
            "limit": str(self.page_limit),
        }
        host = urlsplit(self.url).netloc
        seen: set[str] = set()
        while True:
            body = self.http.get(url, params, self._headers, f"polygon aggregates {symbol}")
            if body.get("status") not in ("OK", "DELAYED"):
                raise DownloadError(f"polygon aggregates {symbol}: {body.get('error') or body.get('status')}")
            rows = body.get("results") or []
            page = _page(self.name, symbol, [_from_ms(r.get("t")) for r in rows], rows)
            yield [b for b in page if start <= b.timestamp < end]
            following = body.get("next_url")
            if not following:
                return
            if urlsplit(following).netloc != host:  # the key goes in a header: never to another host
                raise DownloadError(f"polygon sent a next_url on another host ({urlsplit(following).netloc})")
            if following in seen:
                raise DownloadError(f"polygon aggregates {symbol}: the server named the same next_url twice; stopped")
            seen.add(following)
            url, params = following, None


def _from_ms(raw: Any) -> datetime:
    try:
        return datetime.fromtimestamp(float(raw) / 1000, UTC)
    except (TypeError, ValueError, OverflowError):
        raise DownloadError(f"polygon sent a bar with a bad time {raw!r}") from None


def _parse_time(raw: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(raw).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise DownloadError(f"alpaca sent a bar with a bad time {raw!r}") from None
