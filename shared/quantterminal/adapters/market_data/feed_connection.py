"""A market data websocket connection that survives every way a feed fails (websocket-client).

- Connect, authenticate, subscribe -- in the provider's dialect (Alpaca or Polygon); after every
  reconnect the subscription is made again.
- Keepalive by protocol pings (RFC 6455 5.5.2): after ``silence_timeout`` seconds without a frame
  the client pings; a pong (or any frame) within ``pong_timeout`` proves the link alive, and the
  quiet stream stays open -- minute bars arrive once a minute, and a provider that allows one
  connection per key must not see a login every few seconds. No answer: the link is dead, and it is
  reopened within ``silence_timeout + pong_timeout`` seconds. Pings from the server are answered
  (websocket-client does it). Data silence while the link is alive is the bar stream's business
  (gaps are backfilled from history, the health report turns STALE), not a reason to reconnect.
- Reconnects back off exponentially with full jitter and a cap, so many feeds restarting after one
  outage do not hit the provider together; the delay resets once a connection is subscribed.
- Refused logins and connection-limit errors are not retried quickly: they back off long
  (``refusal_backoff`` doubling to ``refusal_cap``) and raise an alert, instead of hammering.
- Malformed frames and messages are counted and logged once per kind with a sample; they never
  reach the consumer or stop the connection.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import websocket

from quantterminal.adapters.market_data import alpaca_data, polygon_data
from quantterminal.adapters.market_data.feed_frames import Provider, Subscription
from quantterminal.adapters.websocket_keepalive import KeptConnection, LinkDead, Refused, frames
from quantterminal.core.market_data.feed_events import SESSION_STARTED, Control, FeedEvent, ParsedFrame

log = logging.getLogger(__name__)
_REFUSALS = frozenset({"auth_failed", "connection_limit"})
PROVIDERS = {p.name: p for p in (alpaca_data.PROVIDER, polygon_data.PROVIDER)}


class FeedRefused(Refused):
    """The provider refused the login or the connection (bad keys, connection limit)."""


@dataclass(frozen=True)
class FeedSettings:
    """Where to connect and how patiently."""

    url: str
    key: str
    secret: str
    bars: tuple[str, ...] = ()
    trades: tuple[str, ...] = ()
    updated_bars: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()  # symbols whose trading halts and resumptions are wanted
    silence_timeout: float = 5.0  # seconds without a frame before the client pings
    pong_timeout: float = 5.0  # seconds a ping may go unanswered before the link counts as dead
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    refusal_backoff: float = 60.0
    refusal_cap: float = 900.0

    def __repr__(self) -> str:  # never show the keys
        return f"FeedSettings(url={self.url!r}, bars={self.bars}, trades={self.trades})"

    @property
    def subscription(self) -> Subscription:
        return Subscription(self.bars, self.trades, self.updated_bars, self.statuses)


@dataclass
class FeedStats:
    """What the connection has seen (the health line and the metrics are built from it)."""

    connects: int = 0
    reconnects: int = 0
    silences: int = 0  # quiet spells the client pinged through
    dead: int = 0  # links reopened because a ping went unanswered
    refusals: int = 0
    frames: int = 0
    events: int = 0
    malformed: int = 0
    malformed_kinds: set[str] = field(default_factory=set)
    errors: int = 0  # events the consumer failed on, and unexpected failures of the reader


class FeedConnection(KeptConnection):
    """One provider connection feeding ``on_event``; ``run`` until ``stop`` is set."""

    what = "market data feed"
    settings: FeedSettings
    stats: FeedStats

    def __init__(
        self,
        settings: FeedSettings,
        on_event: Callable[[FeedEvent], None],
        alert: Callable[[str], None] = lambda message: None,
        provider: Provider = alpaca_data.PROVIDER,
        sleep: Callable[[float], None] = time.sleep,
        reload_keys: Callable[[], tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(alert, sleep)
        self.settings = settings
        self._reload_keys = reload_keys  # where the keys are read again after a refused login
        self.on_event = on_event
        self.provider = provider
        self.parse: Callable[[str | bytes], ParsedFrame] = provider.parse
        self.stats = FeedStats()

    def _controls(self, ws: websocket.WebSocket) -> list[Control]:
        parsed = self.parse(ws.recv())
        controls = [e for e in parsed.events if isinstance(e, Control)]
        for control in controls:
            if control.kind in _REFUSALS:
                raise FeedRefused(f"{control.kind} ({control.code}: {control.message})")
        return controls

    def _new_credentials(self) -> bool:
        if self._reload_keys is None:
            return False
        try:
            key, secret = self._reload_keys()
        except Exception as exc:  # unreadable, or back to the placeholder: the refusal stands
            log.error("could not read the feed's keys again: %s", type(exc).__name__)
            return False
        if (key, secret) == (self.settings.key, self.settings.secret):
            return False
        self.settings = replace(self.settings, key=key, secret=secret)
        return True

    def _handshake(self, ws: websocket.WebSocket) -> None:
        self._controls(ws)  # "connected"
        s = self.settings
        ws.send(self.provider.login(s.key, s.secret))
        if not any(c.kind == "authenticated" for c in self._controls(ws)):
            raise FeedRefused("login not acknowledged")
        ws.send(self.provider.subscribe(s.subscription))
        self._controls(ws)  # the subscription acknowledgement

    def _session(self, ws: websocket.WebSocket, stop: threading.Event) -> None:
        s = self.settings
        # (re)connected: statuses sent while away are not replayed -- the pipeline re-checks them
        self.on_event(Control(SESSION_STARTED, "logged in and subscribed"))
        try:
            for frame in frames(ws, s.silence_timeout, s.pong_timeout, stop, self._on_silence):
                self._take(frame)
        except LinkDead as exc:
            self.stats.dead += 1
            log.warning("%s: the link is dead; reconnecting", exc)

    def _on_silence(self) -> None:
        self.stats.silences += 1

    def _take(self, frame: str | bytes) -> None:
        self.stats.frames += 1
        parsed = self.parse(frame)
        for bad in parsed.malformed:
            self.stats.malformed += 1
            if bad.reason not in self.stats.malformed_kinds:  # once per kind, with a sample
                self.stats.malformed_kinds.add(bad.reason)
                log.error("skipping malformed market data (%s): %s", bad.reason, bad.sample)
        for event in parsed.events:
            if isinstance(event, Control) and event.kind in _REFUSALS:
                raise FeedRefused(f"{event.kind} ({event.code}: {event.message})")
            self.stats.events += 1
            try:
                self.on_event(event)
            except Exception:  # one event the consumer cannot take must not stop the others
                self.stats.errors += 1
                log.exception("feed event could not be processed: %s", type(event).__name__)
