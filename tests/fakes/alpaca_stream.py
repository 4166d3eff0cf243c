"""A local websocket server speaking Alpaca's trading stream protocol, as its docs describe it
("WebSocket Streaming", docs.alpaca.markets/docs/websocket-streaming): the client sends
``authenticate`` then ``listen``; the server answers on the ``authorization`` and ``listening``
streams and then sends ``trade_updates``. The paper endpoint sends **binary** frames (the docs'
note), so this fake does too. The stream does not replay: an update sent while no client listens
is lost, as on Alpaca. Faults to script: ``drop()`` closes the connection, ``mute = True`` keeps
it open and answering pings but delivers nothing (alpaca-py issue #740), ``hang()`` makes the link
dead (pings unanswered), and wrong keys get ``unauthorized``."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

from tests.fakes.alpaca_server import KEY, SECRET


class FakeTradingStream:
    """``with FakeTradingStream(frames) as stream:``; ``stream.url`` is ``ws://127.0.0.1:PORT``.
    ``frames`` go to the first listening client; ``push`` sends to whoever listens now."""

    def __init__(self, frames: list[Any], binary: bool = True) -> None:
        self.frames = frames
        self.binary = binary
        self.url = ""
        self.keys = (KEY, SECRET)  # what it authorises (changed together with the REST server's)
        self.auth_failures = 0
        self.connections = 0  # authenticated, listening connections so far
        self.mute = False
        self.lost: list[Any] = []  # updates sent while nobody listened, or swallowed by a mute stream
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._current: ServerConnection | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _encode(self, frame: Any) -> str | bytes:
        text = json.dumps(frame)
        return text.encode() if self.binary else text

    async def _session(self, ws: ServerConnection) -> None:
        auth = json.loads(await ws.recv())
        key, secret = self.keys
        if auth.get("action") != "authenticate" or auth.get("data") != {"key_id": key, "secret_key": secret}:
            self.auth_failures += 1
            await ws.send(
                self._encode({"stream": "authorization", "data": {"action": "authenticate", "status": "unauthorized"}})
            )
            return
        await ws.send(
            self._encode({"stream": "authorization", "data": {"action": "authenticate", "status": "authorized"}})
        )
        listen = json.loads(await ws.recv())
        await ws.send(self._encode({"stream": "listening", "data": {"streams": listen["data"]["streams"]}}))
        self.connections += 1
        self._current = ws
        if self.connections == 1:
            for frame in self.frames:
                await ws.send(self._encode(frame))
        assert self._stop is not None
        try:
            await ws.wait_closed()
        finally:
            if self._current is ws:
                self._current = None

    def push(self, frame: Any) -> bool:
        """Send one update to the listening client; False if it was lost (nobody, or mute)."""

        async def send() -> bool:
            ws = self._current
            if ws is None or self.mute:
                self.lost.append(frame)
                return False
            await ws.send(self._encode(frame))
            return True

        return asyncio.run_coroutine_threadsafe(send(), self._loop).result(5)

    def drop(self) -> None:
        """Close the current connection (a restart on Alpaca's side, a network blip)."""

        async def close() -> None:
            if self._current is not None:
                self._current.transport.abort()
                self._current = None

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)

    def hang(self) -> None:
        """Make the link dead: nothing is read (the client's pings are never answered)."""

        async def pause() -> None:
            if self._current is not None:
                self._current.transport.pause_reading()

        asyncio.run_coroutine_threadsafe(pause(), self._loop).result(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def main() -> None:
            self._stop = asyncio.Event()
            async with serve(self._session, "127.0.0.1", 0) as server:
                port = next(iter(server.sockets)).getsockname()[1]
                self.url = f"ws://127.0.0.1:{port}"
                self._ready.set()
                await self._stop.wait()

        self._loop.run_until_complete(main())

    def __enter__(self) -> FakeTradingStream:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)
