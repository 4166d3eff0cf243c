"""The account's ``trade_updates`` stream (fills!), kept up and made whole (websocket-client).

Alpaca's trading stream (docs "WebSocket Streaming"): connect, ``authenticate`` with the keys,
``listen`` to ``trade_updates``; the paper endpoint sends binary frames, and one connection per
account is allowed. alpaca-py's ``TradingStream`` reconnects back to back without backoff and can
sit connected but mute (alpaca-py issue #740), so this client is ours, built like the market data
connection:

- quiet spells are pinged through (``websocket_keepalive``): an account without working orders is
  silent for hours, and that is no reason to log in again; an unanswered ping reopens the link;
- reconnects back off exponentially with full jitter; a refused login backs off long and alerts;
- after every (re)connection, and every ``sweep_every`` seconds while connected, what the stream
  may have missed is read back from the REST API (``alpaca_catch_up``) and handed over like a
  streamed update. Duplicates are harmless: the order state counts each execution once (by its
  cumulative quantity, whichever id it came under) and each lifecycle event once. Updates already
  forwarded are not sent again. A sweep that finds an execution the connected stream never sent
  means the stream is mute: it is reconnected and counted (``mute``), and an alert goes out.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import websocket

from quantterminal.adapters.broker.alpaca_catch_up import missed_updates
from quantterminal.adapters.websocket_keepalive import KeptConnection, LinkDead, Refused, frames
from quantterminal.core.accounting.orders import OrderUpdate
from quantterminal.core.trading.broker import BrokerRejected, BrokerUnavailable

if TYPE_CHECKING:
    from quantterminal.adapters.broker.alpaca_broker import AlpacaBroker

log = logging.getLogger(__name__)
_REMEMBERED = 20_000  # forwarded update keys kept (far more than a day's updates)


class StreamRefused(Refused):
    """Alpaca refused the login (bad keys) or the listen request."""


class StreamMute(websocket.WebSocketException):
    """The connected stream did not deliver what the REST API shows happened."""


@dataclass(frozen=True)
class TradeStreamSettings:
    """Where the trade_updates stream is and how patiently it is kept (it logs in with its
    broker's keys, which the broker reads again after a 401)."""

    url: str
    silence_timeout: float = 20.0  # seconds without a frame before the client pings
    pong_timeout: float = 5.0
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    refusal_backoff: float = 60.0
    refusal_cap: float = 900.0
    sweep_every: float = 60.0  # REST catch-up while connected (a mute stream is found this way)
    start_lookback: timedelta = timedelta(hours=24)  # what the first catch-up reads back
    overlap: timedelta = timedelta(minutes=2)  # each catch-up re-reads this much (clock skew, late posts)
    mute_after: timedelta = timedelta(seconds=30)  # an update this old found only by REST: the stream is mute


@dataclass
class TradeStreamStats:
    """What the stream has seen (the feed's health line and metrics are built from it)."""

    connects: int = 0
    reconnects: int = 0
    silences: int = 0
    dead: int = 0  # links reopened because a ping went unanswered
    refusals: int = 0
    updates: int = 0  # order updates delivered by the stream
    recovered: int = 0  # updates the stream had not delivered, found by a REST catch-up
    catch_ups: int = 0
    catch_up_failures: int = 0
    mute: int = 0  # reconnects because a catch-up found what the connected stream never sent
    malformed: int = 0
    errors: int = 0
    connected: bool = False


class AlpacaTradeStream(KeptConnection):
    """``run(stop)`` keeps ``trade_updates`` flowing into ``on_update`` until ``stop`` is set."""

    what = "Alpaca trade_updates stream"
    settings: TradeStreamSettings
    stats: TradeStreamStats

    def __init__(
        self,
        settings: TradeStreamSettings,
        on_update: Callable[[OrderUpdate], None],
        broker: AlpacaBroker,
        alert: Callable[[str], None] = lambda message: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(alert, sleep)
        self.settings = settings
        self.on_update = on_update
        self.broker = broker
        self.clock = clock
        self.stats = TradeStreamStats()
        self._forwarded: OrderedDict[tuple[str, str, object], None] = OrderedDict()
        self._caught_up_to: datetime | None = None  # every update before this has been read back
        self._lock = threading.Lock()  # the reader and a catch-up forward from one thread, but be safe
        self._login_keys: tuple[str, str] | None = None  # the keys of the last login

    def _closed(self) -> None:
        self.stats.connected = False

    def _new_credentials(self) -> bool:
        # new keys since this stream's refused login: read now, or already by a REST call's 401
        self.broker.reload_keys()
        return self.broker.keys != self._login_keys

    def catch_up(self) -> list[OrderUpdate]:
        """Read back from REST what happened since the last catch-up and forward what was not
        forwarded yet; those updates ([] if REST is unreachable: the next one re-reads the span)."""
        now = self.clock()
        since = (self._caught_up_to or now - self.settings.start_lookback) - self.settings.overlap
        try:
            updates = missed_updates(self.broker, since, now)
        except (BrokerUnavailable, BrokerRejected, ValueError) as exc:
            self.stats.catch_up_failures += 1
            log.warning("trade updates catch-up failed (%s); retrying at the next one", exc)
            return []
        self.stats.catch_ups += 1
        recovered = [update for update in updates if self._forward(update)]
        self.stats.recovered += len(recovered)
        self._caught_up_to = now
        if recovered:
            log.warning("caught up on %d order updates the stream had not delivered", len(recovered))
        return recovered

    def _forward(self, update: OrderUpdate) -> bool:
        """Hand ``update`` over unless it was forwarded already (from either source); whether it
        was new. An update is known by its event and cumulative quantity, and an execution also
        by the cumulative quantity it brought the order to (ids differ between the sources)."""
        keys: list[tuple[str, str, object]] = [(update.client_order_id, update.event, update.cum_filled_qty)]
        if update.execution is not None:
            x = update.execution
            keys.append((update.client_order_id, "execution", x.cum_qty if x.cum_qty is not None else x.execution_id))
        with self._lock:
            if all(key in self._forwarded for key in keys):
                return False
            for key in keys:
                self._forwarded[key] = None
            while len(self._forwarded) > _REMEMBERED:
                self._forwarded.popitem(last=False)
        try:
            self.on_update(update)
        except Exception:  # the consumer failing on one update must not stop the stream
            self.stats.errors += 1
            log.exception("order update could not be forwarded: %s %s", update.client_order_id, update.event)
        return True

    def _message(self, ws: websocket.WebSocket) -> dict[str, Any]:
        raw = ws.recv()
        message = json.loads(raw)
        if not isinstance(message, dict):
            raise StreamRefused(f"unexpected message {str(raw)[:120]!r}")
        return message

    def _handshake(self, ws: websocket.WebSocket) -> None:
        key, secret = self._login_keys = self.broker.keys  # the broker's: read again after a 401, by either
        ws.send(json.dumps({"action": "authenticate", "data": {"key_id": key, "secret_key": secret}}))
        reply = self._message(ws)
        if reply.get("stream") != "authorization" or reply.get("data", {}).get("status") != "authorized":
            raise StreamRefused(f"authentication: {json.dumps(reply.get('data', reply))[:200]}")
        ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
        reply = self._message(ws)
        if "trade_updates" not in reply.get("data", {}).get("streams", ()):
            raise StreamRefused(f"listen: {json.dumps(reply.get('data', reply))[:200]}")

    def _session(self, ws: websocket.WebSocket, stop: threading.Event) -> None:
        self.stats.connected = True
        self.catch_up()  # whatever happened while there was no connection (not "mute")
        s = self.settings
        next_sweep = time.monotonic() + s.sweep_every
        ws.settimeout(min(s.silence_timeout, s.sweep_every))
        try:
            for frame in frames(ws, min(s.silence_timeout, s.sweep_every), s.pong_timeout, stop, self._on_silence):
                self._take(frame)
                if time.monotonic() >= next_sweep:
                    self._sweep()
                    next_sweep = time.monotonic() + s.sweep_every
        except LinkDead as exc:
            self.stats.dead += 1
            log.warning("trade_updates: %s; reconnecting", exc)

    def _on_silence(self) -> None:
        self.stats.silences += 1
        self._sweep()  # quiet spells are when a mute stream hides

    def _sweep(self) -> None:
        """Catch up while connected; what the stream should long have sent means it is mute."""
        overdue = self.clock() - self.settings.mute_after
        missed = [u for u in self.catch_up() if u.timestamp < overdue]
        if missed:
            self.stats.mute += 1
            self.alert(
                f"Alpaca trade_updates stream is connected but did not deliver {len(missed)} order updates "
                f"(recovered from the REST API); reconnecting"
            )
            raise StreamMute(f"{len(missed)} updates older than {self.settings.mute_after} came only from REST")

    def _take(self, frame: str | bytes) -> None:
        try:
            message = json.loads(frame)
            stream = message.get("stream")
            if stream == "trade_updates":
                update = self.broker.order_update(message["data"])
            elif message.get("action") == "error":
                raise websocket.WebSocketConnectionClosedException(f"stream error: {message.get('data')}")
            else:
                return  # authorization / listening acknowledgements
        except (BrokerUnavailable, BrokerRejected) as exc:  # an exit leg's entry could not be read: REST catches up
            log.warning("trade update not named (%s); the next catch-up books it", exc)
            return
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            self.stats.malformed += 1
            log.error("skipped malformed trade update: %s", exc)
            return
        self.stats.updates += 1
        self._forward(update)
