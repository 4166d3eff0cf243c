"""Polygon (Massive) stocks websocket: text frames -> the core's Trade, Quote and BarUpdate.

Frames are JSON arrays of messages told apart by ``ev``: trades ``T``, quotes ``Q``, minute
aggregates ``AM`` (labelled by window start ``s``), second aggregates ``A`` (skipped: the pipeline
works in minutes), ``status`` control messages. Timestamps are Unix milliseconds; trade ids are
strings. Unusable messages become ``Malformed`` and the rest of the frame is kept.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from quantterminal.adapters.market_data.feed_frames import Provider, Subscription, bar, parse_messages, quote, trade
from quantterminal.core.market_data.feed_events import (
    BarSource,
    BarUpdate,
    Control,
    FeedEvent,
    ParsedFrame,
    TradingStatus,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STATUS_KINDS = {
    "connected": "connected",
    "auth_success": "authenticated",
    "auth_failed": "auth_failed",
    "auth_timeout": "auth_failed",
    "max_connections": "connection_limit",
    "success": "subscribed",
}


LULD_HALT, LULD_RESUME = 17, 18  # Massive/Polygon LULD indicators (docs "Limit Up - Limit Down")


def _ms_or_us(raw: Any) -> datetime:
    """LULD times: the schema says Unix ms, the spec's example has 16 digits (µs); take both."""
    if isinstance(raw, int) and not isinstance(raw, bool) and raw > 10**14:
        return _EPOCH + timedelta(microseconds=raw)
    return _ms(raw)


def _ms(raw: Any) -> datetime:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ValueError(f"timestamp {raw!r} is not integer milliseconds")
    return _EPOCH + timedelta(milliseconds=raw)


def _message(m: Mapping[str, Any]) -> FeedEvent | None:
    ev = m.get("ev")
    if ev == "T":
        return trade(str(m["sym"]), _ms(m["t"]), m)
    if ev == "Q":
        return quote(str(m["sym"]), _ms(m["t"]), m)
    if ev == "AM":
        return BarUpdate(bar(str(m["sym"]), _ms(m["s"]), m), BarSource.PROVIDER)
    if ev == "A":
        return None  # per-second aggregates: not used
    if ev == "LULD":  # the symbol is under "T" here; indicators 17/18 halt and resume (Nasdaq-listed)
        indicators = {int(i) for i in m.get("i") or () if not isinstance(i, bool)}
        if indicators & {LULD_HALT, LULD_RESUME}:
            halted = LULD_HALT in indicators
            return TradingStatus(str(m["T"]), halted, _ms_or_us(m["t"]), str(sorted(indicators)), "LULD")
        return None  # price bands only
    if ev == "status":
        status = str(m.get("status"))
        return Control(_STATUS_KINDS.get(status, status), str(m.get("message", "")))
    raise ValueError(f"unknown event type {ev!r}")


def parse_frame(text: str | bytes) -> ParsedFrame:
    """Normalise one websocket text frame."""
    return parse_messages(text, _message, "ev")


def _login(key: str, secret: str) -> str:
    return json.dumps({"action": "auth", "params": key})  # Polygon logs in with the API key alone


def _subscribe(wanted: Subscription) -> str:
    # One comma-separated string of EV.SYMBOL topics; Polygon has no revised-bar channel.
    topics = [f"AM.{s}" for s in wanted.bars] + [f"T.{s}" for s in wanted.trades]
    topics += [f"LULD.{s}" for s in wanted.statuses]
    return json.dumps({"action": "subscribe", "params": ",".join(topics)})


PROVIDER = Provider("polygon", "wss://socket.polygon.io/stocks", parse_frame, _login, _subscribe, "polygon")
