"""A local websocket server speaking Alpaca's trading stream protocol (authenticate, listen,
trade_updates), which sends the frames it is given once a client is listening."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

from tests.fakes.alpaca_server import KEY, SECRET


class FakeTradingStream:
    """``with FakeTradingStream(frames) as stream:``; ``stream.url`` is ``ws://127.0.0.1:PORT``."""

    def __init__(self, frames: list[Any]) -> None:
        self.frames = frames
        self.url = ""
        self.auth_failures = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _session(self, ws: ServerConnection) -> None:
        auth = json.loads(await ws.recv())
        if auth.get("action") != "authenticate" or auth.get("data") != {"key_id": KEY, "secret_key": SECRET}:
            self.auth_failures += 1
            await ws.send(
                json.dumps({"stream": "authorization", "data": {"action": "authenticate", "status": "unauthorized"}})
            )
            return
        await ws.send(
            json.dumps({"stream": "authorization", "data": {"action": "authenticate", "status": "authorized"}})
        )
        listen = json.loads(await ws.recv())
        await ws.send(json.dumps({"stream": "listening", "data": {"streams": listen["data"]["streams"]}}))
        for frame in self.frames:
            await ws.send(json.dumps(frame))
        assert self._stop is not None
        await self._stop.wait()

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
