"""Reading a websocket that must stay open through quiet spells (websocket-client).

Both long-lived streams (market data, the account's trade updates) are quiet for long stretches:
minute bars come once a minute, order updates only when an order moves. A read timeout is
therefore not a dead link. After ``silence`` seconds without a frame the reader sends a protocol
ping (RFC 6455 5.5.2); any frame within ``pong_timeout`` -- the pong or data -- proves the link
alive. No answer: ``LinkDead`` is raised and the caller reconnects, within ``silence +
pong_timeout`` seconds of the last frame. Pings from the server are answered by websocket-client.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import websocket


class LinkDead(websocket.WebSocketException):
    """A ping went unanswered: the connection is gone though no error was seen."""


def frames(
    ws: websocket.WebSocket,
    silence: float,
    pong_timeout: float,
    stop: threading.Event,
    on_silence: Callable[[], None] = lambda: None,
) -> Iterator[str | bytes]:
    """The data frames of ``ws`` (text as ``str``, binary as ``bytes``) until ``stop`` is set;
    ``on_silence`` is called for every quiet spell pinged through. The socket's timeout must be
    ``silence`` on entry."""
    pinged = False  # a ping of ours is unanswered: the next timeout means the link is dead
    while not stop.is_set():
        try:
            opcode, received = ws.recv_data_frame(control_frame=True)
        except websocket.WebSocketTimeoutException:
            if pinged:
                raise LinkDead(f"no pong within {pong_timeout:.1f} s of a ping") from None
            on_silence()
            ws.ping(b"qt")
            ws.settimeout(pong_timeout)
            pinged = True
            continue
        if pinged:  # anything at all answers the ping
            pinged = False
            ws.settimeout(silence)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            raise websocket.WebSocketConnectionClosedException("connection closed by the server")
        if opcode in (websocket.ABNF.OPCODE_PING, websocket.ABNF.OPCODE_PONG):
            continue
        data: bytes = received.data
        yield data.decode("utf-8") if opcode == websocket.ABNF.OPCODE_TEXT else data
