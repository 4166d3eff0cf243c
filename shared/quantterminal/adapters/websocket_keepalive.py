"""Keeping a websocket open through quiet spells and outages (websocket-client).

Both long-lived streams (market data, the account's trade updates) are quiet for long stretches:
minute bars come once a minute, order updates only when an order moves. A read timeout is
therefore not a dead link. After ``silence`` seconds without a frame the reader sends a protocol
ping (RFC 6455 5.5.2); any frame within ``pong_timeout`` -- the pong or data -- proves the link
alive. No answer: ``LinkDead`` is raised and the caller reconnects, within ``silence +
pong_timeout`` seconds of the last frame. Pings from the server are answered by websocket-client.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Protocol

import websocket

from quantterminal.adapters.retry import backoff_delay, patient_delay

log = logging.getLogger(__name__)


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
        if opcode != websocket.ABNF.OPCODE_TEXT:
            yield data
            continue
        try:  # strict: the one UTF-8 check of a text frame (in C; the client's own is skipped)
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise websocket.WebSocketProtocolException("invalid UTF-8 in a text frame") from None
        yield text


class Refused(Exception):  # noqa: N818 - the server's answer, not a bug
    """The server refused the login or the connection (bad keys, a connection limit)."""


class ConnectionStats(Protocol):
    """The counters every kept connection keeps."""

    connects: int
    reconnects: int
    refusals: int
    errors: int


class ConnectionSettings(Protocol):
    """Where to connect and how patiently to reconnect."""

    @property
    def url(self) -> str: ...
    @property
    def silence_timeout(self) -> float: ...
    @property
    def backoff_base(self) -> float: ...
    @property
    def backoff_cap(self) -> float: ...
    @property
    def refusal_backoff(self) -> float: ...
    @property
    def refusal_cap(self) -> float: ...


class KeptConnection:
    """A websocket kept open until ``stop``: reconnects back off exponentially with full jitter
    (reset once a session starts), refusals back off long and alert, a bug in the reader costs a
    reconnect and never the thread. Subclasses say how a session goes (``_handshake``,
    ``_session``) and what the connection is called in logs (``what``)."""

    what = "connection"
    settings: ConnectionSettings
    stats: ConnectionStats

    def __init__(self, alert: Callable[[str], None], sleep: Callable[[float], None]) -> None:
        self.alert = alert
        self.sleep = sleep
        self._ws: websocket.WebSocket | None = None

    def interrupt(self) -> None:
        """Abort a blocked read at once (after setting ``stop``, from another thread)."""
        ws = self._ws
        if ws is not None:
            ws.shutdown()  # type: ignore[no-untyped-call]

    def _handshake(self, ws: websocket.WebSocket) -> None:
        raise NotImplementedError

    def _session(self, ws: websocket.WebSocket, stop: threading.Event) -> None:
        raise NotImplementedError

    def _new_credentials(self) -> bool:
        """After a refusal: read the credentials again; whether they changed (and are now used)."""
        return False

    def _closed(self) -> None:
        """A session ended (whatever the reason)."""

    def run(self, stop: threading.Event) -> None:
        """Keep a connection open until ``stop`` is set."""
        s = self.settings
        failures = refusals = 0
        while not stop.is_set():
            ws: websocket.WebSocket | None = None
            try:
                # UTF-8 is checked where text frames are decoded (``frames``), in C: the client's own
                # check, in Python, was a fifth of the feed thread's time
                ws = self._ws = websocket.create_connection(s.url, timeout=s.silence_timeout, skip_utf8_validation=True)
                self._handshake(ws)
                self.stats.connects += 1
                failures = refusals = 0
                self._session(ws, stop)
            except Refused as exc:
                refusals += 1
                self.stats.refusals += 1
                if self._new_credentials():  # the keys were changed under us: try the new ones soon
                    self.alert(f"{self.what} refused: {exc}; new keys read from the secret, reconnecting")
                    refusals = 0
                    self._pause(backoff_delay(0, s.backoff_base, s.backoff_cap), stop)
                    continue
                delay = patient_delay(refusals - 1, s.refusal_backoff, s.refusal_cap)
                self.alert(f"{self.what} refused: {exc}; next attempt in {delay:.0f} s")
                self._pause(delay, stop)
                continue
            except (websocket.WebSocketException, OSError) as exc:
                if stop.is_set():
                    break  # interrupted on purpose
                failures += 1
                log.warning("%s lost (%s: %s); reconnecting", self.what, type(exc).__name__, exc)
                self._pause(backoff_delay(failures - 1, s.backoff_base, s.backoff_cap), stop)
            except Exception:  # a bug must cost a reconnect, never the reader thread
                if stop.is_set():
                    break
                failures += 1
                self.stats.errors += 1
                log.exception("%s reader failed unexpectedly; reconnecting", self.what)
                self._pause(backoff_delay(failures - 1, s.backoff_base, s.backoff_cap), stop)
            finally:
                self._closed()
                self._ws = None
                if ws is not None:
                    ws.close()
            if not stop.is_set():
                self.stats.reconnects += 1

    def _pause(self, seconds: float, stop: threading.Event) -> None:
        if self.sleep is time.sleep:
            stop.wait(seconds)  # wakes at once when asked to stop
        else:
            self.sleep(seconds)
