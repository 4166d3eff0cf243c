"""A market data replay server on 127.0.0.1 speaking Alpaca's stream v2 protocol (or Polygon's), with chaos.

It serves real minute bars (CSV files, e.g. the repo's sample data) as Alpaca ``b`` messages, in
time order, each minute's bars in one frame (an array of messages, as the stream documents them:
``[{"T": "{message_type}", {contents}},...]`` -- Alpaca Data API v2, "Real-time data"), to
clients that connect, authenticate (``{"action": "auth", "key", "secret"}``) and subscribe
(``{"action": "subscribe", "bars": [...]}``); with ``protocol="polygon"`` as Polygon ``AM``
aggregates after Polygon's ``auth``/``subscribe`` with ``params``. ``speed`` replays that many
minutes of market time per second of wall time (0: as fast as the client reads); closed-market
time (nights, weekends) is skipped.

Chaos, for testing a feed against every way a live feed fails:
- ``drop_every=N``: close the connection after every N bar messages; the bar that was about to
  go out is lost, as on a real dropped socket (the feed must backfill it);
- ``silence_every=N`` with ``silence_seconds=S``: stop sending for S seconds, connection open and
  alive (pings answered, as a quiet live stream between minute bars);
- ``hang_every=N``: after every N bar messages the link goes dead: nothing is sent and nothing is
  read (so pings go unanswered) until the client gives up; the bar about to go out is lost;
- ``garbage_every=N``: send an invalid frame now and then;
- ``hostile_every=N``: send a hostile frame every N bars, cycling through ``HOSTILE_FRAMES`` (a
  frame nested deeper than a JSON parser recurses, a bar dated 2100, a volume beyond 64 bits, a
  zone-less time, numbers as strings and booleans, a fractional volume);
- ``refuse_auth=True``: answer every auth with error 402; ``connection_limit=True``: with 406.

Both of Alpaca's encodings: JSON text frames, or MessagePack binary frames for a client that asks
for them with ``Content-Type: application/msgpack`` on the handshake, as alpaca-py's
``StockDataStream`` does -- so a user's alpaca-py code can run against a replay.

The replay position is shared by all connections: a client that reconnects continues where the
stream is now, not where it left, just like a live feed.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgpack
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from quantterminal.core.models import Bar

MSGPACK = "application/msgpack"


def _with_timestamps(message: dict[str, Any]) -> dict[str, Any]:
    """A message as Alpaca packs it in MessagePack: times as the Timestamp extension type. Alpaca's
    bars always carry ``vw`` and ``n`` and alpaca-py requires them; a replayed file without them
    gets the bar's typical price and 0 trades (JSON clients get no made-up values)."""
    t = message.get("t")
    if not isinstance(t, str):
        return message
    packed = {**message, "t": datetime.fromisoformat(t.replace("Z", "+00:00"))}
    if packed.get("T") in ("b", "u", "d"):
        packed.setdefault("vw", round((packed["h"] + packed["l"] + packed["c"]) / 3, 4))
        packed.setdefault("n", 0)
    return packed


@dataclass(frozen=True)
class Chaos:
    """How the replay server misbehaves (all off by default)."""

    drop_every: int = 0
    silence_every: int = 0
    silence_seconds: float = 0.0
    garbage_every: int = 0
    refuse_auth: bool = False
    connection_limit: bool = False
    hostile_every: int = 0
    hang_every: int = 0


def hostile_frames(symbol: str) -> list[str]:
    """Frames meant to break a feed reader, each otherwise shaped like an Alpaca bar of ``symbol``.
    A strict reader skips every one of them (the future bar and the symbols not subscribed: drops
    them) and reads on."""
    base = {"T": "b", "S": symbol, "t": "2013-10-07T13:30:00Z", "o": 1.0, "h": 1.0, "l": 1.0, "c": 1.0, "v": 1}
    variants: list[dict[str, Any]] = [
        {"t": "2100-01-04T14:30:00Z"},  # from the future
        {"v": 2**70},  # beyond any 64-bit column
        {"t": "2013-10-07T13:30:00"},  # no time zone
        {"o": "1.0"},  # a number as a string
        {"v": True},  # a boolean for a number
        {"v": 10.5},  # a fractional volume
        {"S": "ZZZZ"},  # a symbol not subscribed
        {"S": "X" * 5_000},  # a symbol no exchange lists
    ]
    return ["[" * 100_000 + "]" * 100_000] + [json.dumps([{**base, **v}]) for v in variants]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ms(ts: datetime) -> int:
    return (ts - _EPOCH) // timedelta(milliseconds=1)


def polygon_bar_message(bar: Bar) -> dict[str, Any]:
    """A bar as Polygon's minute aggregate (``AM``)."""
    return {
        "ev": "AM",
        "sym": bar.symbol,
        "v": bar.volume,
        "o": bar.open,
        "h": bar.high,
        "l": bar.low,
        "c": bar.close,
        "vw": bar.vwap if bar.vwap is not None else bar.close,
        "s": _ms(bar.timestamp),
        "e": _ms(bar.timestamp + timedelta(minutes=1)),
    }


def bar_message(bar: Bar) -> dict[str, Any]:
    """A bar in Alpaca's stream format."""
    message: dict[str, Any] = {
        "T": "b",
        "S": bar.symbol,
        "o": bar.open,
        "h": bar.high,
        "l": bar.low,
        "c": bar.close,
        "v": bar.volume,
        "t": bar.timestamp.isoformat().replace("+00:00", "Z"),
    }
    if bar.vwap is not None:
        message["vw"] = bar.vwap
    if bar.trade_count is not None:
        message["n"] = bar.trade_count
    return message


class _Alpaca:
    """Alpaca's stream v2 handshake and messages."""

    @staticmethod
    def connected() -> list[dict[str, Any]]:
        return [{"T": "success", "msg": "connected"}]

    @staticmethod
    def accepts(auth: dict[str, Any], key: str, secret: str) -> bool:
        return auth.get("action") == "auth" and (auth.get("key"), auth.get("secret")) == (key, secret)

    @staticmethod
    def refusal(limit: bool) -> list[dict[str, Any]]:
        if limit:
            return [{"T": "error", "code": 406, "msg": "connection limit exceeded"}]
        return [{"T": "error", "code": 402, "msg": "auth failed"}]

    @staticmethod
    def authenticated() -> list[dict[str, Any]]:
        return [{"T": "success", "msg": "authenticated"}]

    @staticmethod
    def subscribed(request: dict[str, Any]) -> tuple[set[str], list[dict[str, Any]]]:
        symbols = set(request.get("bars") or [])
        empty: list[str] = []
        ack = {"T": "subscription", "trades": empty, "quotes": empty, "bars": sorted(symbols)}
        for channel in ("updatedBars", "dailyBars", "statuses", "lulds", "corrections", "cancelErrors"):
            ack[channel] = sorted(request.get(channel) or [])  # the ack lists the whole current set
        return symbols, [ack]

    bar = staticmethod(bar_message)


class _Polygon:
    """Polygon's stocks websocket handshake and messages."""

    @staticmethod
    def connected() -> list[dict[str, Any]]:
        return [{"ev": "status", "status": "connected", "message": "Connected Successfully"}]

    @staticmethod
    def accepts(auth: dict[str, Any], key: str, secret: str) -> bool:
        return auth.get("action") == "auth" and auth.get("params") == key  # Polygon has no secret

    @staticmethod
    def refusal(limit: bool) -> list[dict[str, Any]]:
        if limit:
            return [{"ev": "status", "status": "max_connections", "message": "Maximum number of connections exceeded."}]
        return [{"ev": "status", "status": "auth_failed", "message": "authentication failed"}]

    @staticmethod
    def authenticated() -> list[dict[str, Any]]:
        return [{"ev": "status", "status": "auth_success", "message": "authenticated"}]

    @staticmethod
    def subscribed(request: dict[str, Any]) -> tuple[set[str], list[dict[str, Any]]]:
        topics = [t for t in str(request.get("params") or "").split(",") if t]
        symbols = {t.split(".", 1)[1] for t in topics if t.startswith("AM.")}
        return symbols, [{"ev": "status", "status": "success", "message": f"subscribed to: {t}"} for t in topics]

    bar = staticmethod(polygon_bar_message)


_PROTOCOLS: dict[str, Any] = {"alpaca": _Alpaca, "polygon": _Polygon}


class ReplayServer:
    """Serve ``bars`` (any symbols, any order; replayed in time order). Use as a context manager
    (it runs in a background thread) or ``serve_forever`` from a command line."""

    def __init__(
        self,
        bars: list[Bar],
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float = 0.0,
        chaos: Chaos | None = None,
        key: str = "replay",
        secret: str = "replay",
        protocol: str = "alpaca",
    ) -> None:
        if protocol not in _PROTOCOLS:
            raise ValueError(f"unknown protocol {protocol!r} (known: {', '.join(_PROTOCOLS)})")
        self.protocol = _PROTOCOLS[protocol]
        self.bars = sorted(bars, key=lambda b: (b.timestamp, b.symbol))
        self.host, self.port, self.speed = host, port, speed
        self.chaos = chaos or Chaos()
        self.credentials = (key, secret)
        self.sent_times: dict[tuple[str, datetime], float] | None = None  # set to a dict to record
        self.cursor = 0  # next bar to send, shared by every connection
        self.sent = 0
        self.lost: list[Bar] = []
        self.hangs = 0  # links that went dead (hang_every)
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._msgpack: set[int] = set()  # connections that asked for MessagePack

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    async def _send(self, ws: ServerConnection, messages: list[dict[str, Any]]) -> None:
        if id(ws) in self._msgpack:
            await ws.send(msgpack.packb([_with_timestamps(m) for m in messages], datetime=True))
        else:
            await ws.send(json.dumps(messages))

    async def _receive(self, ws: ServerConnection) -> Any:
        frame = await ws.recv()
        return msgpack.unpackb(frame) if isinstance(frame, bytes) else json.loads(frame)

    async def _session(self, ws: ServerConnection) -> None:
        self.connections += 1
        chaos = self.chaos
        speaks = self.protocol
        request = ws.request
        if speaks is _Alpaca and request is not None and request.headers.get("Content-Type") == MSGPACK:
            self._msgpack.add(id(ws))  # as Alpaca's server: a client that asks for MessagePack gets it
        try:
            await self._send(ws, speaks.connected())
            auth = await self._receive(ws)
            if chaos.connection_limit or chaos.refuse_auth or not speaks.accepts(auth, *self.credentials):
                await self._send(ws, speaks.refusal(limit=chaos.connection_limit))
                return
            await self._send(ws, speaks.authenticated())
            symbols, ack = speaks.subscribed(await self._receive(ws))
            await self._send(ws, ack)
            await self._stream(ws, symbols)
        except (ConnectionClosed, ValueError, KeyError, msgpack.UnpackException):
            return
        finally:
            self._msgpack.discard(id(ws))

    async def _stream(self, ws: ServerConnection, symbols: set[str]) -> None:
        chaos = self.chaos
        # Without chaos, a minute's bars go out in one frame, as Alpaca's and Polygon's servers
        # send an array of messages; chaos counts (and loses) bars one frame at a time.
        batched = chaos == Chaos()
        sent_here = 0
        previous = None
        while self.cursor < len(self.bars):
            bar = self.bars[self.cursor]
            self.cursor += 1
            if "*" not in symbols and bar.symbol not in symbols:
                continue
            if self.speed and previous is not None and bar.timestamp > previous:
                # At most one minute's pause: nights, weekends and holidays are skipped, not waited out.
                await asyncio.sleep(min(60.0, (bar.timestamp - previous).total_seconds()) / 60.0 / self.speed)
            previous = bar.timestamp
            if chaos.drop_every and sent_here and sent_here % chaos.drop_every == 0:
                self.lost.append(bar)  # it was on its way out when the line went dead
                # A close frame after the data: everything sent before it arrives, so exactly this
                # one bar is lost. (Aborting the socket instead also discards whatever the client
                # has not read yet -- under load, dozens of bars -- and the count would be wrong.)
                await ws.close()
                return
            if chaos.hang_every and sent_here and sent_here % chaos.hang_every == 0:
                self.lost.append(bar)
                self.hangs += 1
                ws.transport.pause_reading()  # a dead link: the client's pings are never answered
                await asyncio.sleep(30)
                ws.transport.abort()
                return
            if chaos.silence_every and sent_here and sent_here % chaos.silence_every == 0:
                await asyncio.sleep(chaos.silence_seconds)
            if chaos.garbage_every and sent_here and sent_here % chaos.garbage_every == 0:
                await ws.send("}{ not json")
            if chaos.hostile_every and sent_here and sent_here % chaos.hostile_every == 0:
                frames = hostile_frames(bar.symbol)
                await ws.send(frames[(sent_here // chaos.hostile_every - 1) % len(frames)])
            minute = [bar]
            while batched and self.cursor < len(self.bars) and self.bars[self.cursor].timestamp == bar.timestamp:
                same = self.bars[self.cursor]
                self.cursor += 1
                if "*" in symbols or same.symbol in symbols:
                    minute.append(same)
            await self._send(ws, [self.protocol.bar(b) for b in minute])
            if self.sent_times is not None:
                sent_at = time.perf_counter()
                for b in minute:
                    self.sent_times[(b.symbol, b.timestamp)] = sent_at
            self.sent += len(minute)
            sent_here += len(minute)
        assert self._stop is not None
        await self._stop.wait()  # the replay is over; stay connected like an idle live feed

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        # A short close timeout: a dropped client need not answer the close handshake.
        async with serve(self._session, self.host, self.port, close_timeout=0.2) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            self._ready.set()
            await self._stop.wait()

    def serve_forever(self) -> None:
        """Run in the calling thread until interrupted."""
        self._loop.run_until_complete(self._main())

    def __enter__(self) -> ReplayServer:
        self._thread = threading.Thread(target=self.serve_forever, name="replay-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("replay server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)
