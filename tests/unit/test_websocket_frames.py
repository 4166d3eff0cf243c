"""The feed's frame reader: text frames decoded strictly (the websocket client's own UTF-8 check
is skipped, so this is the one), binary ones passed through, pings answered by the server skipped."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import websocket

from quantterminal.adapters.websocket_keepalive import frames


class Socket:
    """The two calls ``frames`` makes of a ``websocket.WebSocket``, answering from a script."""

    def __init__(self, script: list[tuple[int, bytes]]) -> None:
        self.script = script

    def recv_data_frame(self, control_frame: bool = False) -> tuple[int, Any]:
        opcode, data = self.script.pop(0)
        return opcode, websocket.ABNF(opcode=opcode, data=data)

    def settimeout(self, timeout: float) -> None:
        pass


def read(script: list[tuple[int, bytes]]) -> list[str | bytes]:
    got: list[str | bytes] = []
    for frame in frames(Socket(script), 1.0, 1.0, threading.Event()):  # type: ignore[arg-type]
        got.append(frame)
        if not script:
            break
    return got


def test_text_is_decoded_binary_passed_and_pongs_skipped() -> None:
    script = [
        (websocket.ABNF.OPCODE_TEXT, b'[{"T":"b","S":"SPY","c":1.5}]'),
        (websocket.ABNF.OPCODE_PONG, b"qt"),
        (websocket.ABNF.OPCODE_BINARY, b"\x91\x80"),
        (websocket.ABNF.OPCODE_TEXT, "ünïcode".encode()),
    ]
    assert read(script) == ['[{"T":"b","S":"SPY","c":1.5}]', b"\x91\x80", "ünïcode"]


def test_a_text_frame_that_is_not_utf8_is_a_protocol_error_as_before() -> None:
    with pytest.raises(websocket.WebSocketProtocolException, match="invalid UTF-8"):
        read([(websocket.ABNF.OPCODE_TEXT, b'[{"T":"b","S":"\xff"}]')])
