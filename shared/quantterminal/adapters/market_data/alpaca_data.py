"""Alpaca market data stream v2: text frames -> the core's Trade, Quote and BarUpdate.

Every frame is a JSON array of messages told apart by ``T``: trades ``t``, quotes ``q``, minute
bars ``b``, revised minute bars ``u`` (updatedBars), daily bars ``d``, trade cancels ``x`` and
corrections ``c``, trading status ``s`` (halts and resumptions become ``TradingStatus``), LULD bands ``l``
(skipped), control ``success``/``subscription``/``error``. Anything
unusable (unknown type, missing field, NaN or negative price, unknown error) becomes a
``Malformed`` entry and the rest of the frame is kept. Timestamps are RFC 3339 (nanoseconds are
truncated to microseconds); bar times are the bar's start.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from quantterminal.adapters.market_data.feed_frames import (
    Provider,
    Subscription,
    bar,
    parse_messages,
    quote,
    rfc3339,
    trade,
    whole,
)
from quantterminal.core.market_data.feed_events import (
    BarSource,
    BarUpdate,
    Control,
    FeedEvent,
    ParsedFrame,
    TradeCancel,
    TradeCorrection,
    TradingStatus,
)
from quantterminal.core.models import Bar, Trade

# Alpaca's documented stream error codes -> the control kind the connection acts on.
ERROR_KINDS = {
    401: "auth_failed",
    402: "auth_failed",
    404: "auth_failed",
    406: "connection_limit",
    409: "auth_failed",
    411: "auth_failed",
}
_BAR_SOURCES = {"b": BarSource.PROVIDER, "u": BarSource.REVISION, "d": BarSource.DAILY}
# Trading status codes (Alpaca "Real-time Stock Data", trading status): tapes A and B (CTA) halt
# with "2" and resume with "3"; tapes C and O (UTP) halt with "H", pause for volatility (LULD) with
# "P" and resume trading with "T" ("Q", quotation resumption, is not yet trading).
HALT_CODES = frozenset({"2", "H", "P"})
RESUME_CODES = frozenset({"3", "T"})


_ts = rfc3339


def _trade(m: Mapping[str, Any]) -> Trade:
    return trade(str(m["S"]), _ts(m["t"]), m)


def bar_from_message(m: Mapping[str, Any], symbol: str | None = None) -> Bar:
    """A bar in Alpaca's format (stream ``b``/``u``/``d`` messages and historical bars share it)."""
    return bar(symbol or str(m["S"]), _ts(m["t"]), m)


def _message(m: Mapping[str, Any]) -> FeedEvent | None:
    kind = m.get("T")
    if kind == "t":
        return _trade(m)
    if kind == "q":
        return quote(str(m["S"]), _ts(m["t"]), m)
    if kind in _BAR_SOURCES:
        return BarUpdate(bar_from_message(m), _BAR_SOURCES[kind])
    if kind == "x":
        return TradeCancel(str(m["S"]), str(m["i"]), str(m.get("x") or ""), _ts(m["t"]))
    if kind == "c":
        corrected = _trade(
            {"S": m["S"], "t": m["t"], "p": m["cp"], "s": m["cs"], "i": m["ci"], "x": m.get("x"), "c": m.get("cc")}
        )
        return TradeCorrection(str(m["S"]), str(m["oi"]), corrected)
    if kind == "success":
        return Control(str(m.get("msg")), str(m.get("msg")))
    if kind == "subscription":
        return Control("subscribed", json.dumps({k: v for k, v in m.items() if k != "T"}, sort_keys=True))
    if kind == "error":
        code = whole(m["code"], "code")
        return Control(ERROR_KINDS.get(code, "error"), str(m.get("msg", "")), code)
    if kind == "s":
        status = str(m.get("sc", ""))
        reason = f"{m.get('sm')} ({m.get('rc')}: {m.get('rm')})"
        if status in HALT_CODES or status in RESUME_CODES:
            return TradingStatus(str(m["S"]), status in HALT_CODES, _ts(m["t"]), status, reason)
        return Control("status", f"{m.get('S')}: {reason}")  # imbalances, indications, quote resumption
    if kind == "l":
        return None  # LULD price bands: the price band rule already keeps orders near the last price
    raise ValueError(f"unknown message type {kind!r}")


def parse_frame(text: str | bytes) -> ParsedFrame:
    """Normalise one websocket text frame."""
    return parse_messages(text, _message, "T")


def _login(key: str, secret: str) -> str:
    return json.dumps({"action": "auth", "key": key, "secret": secret})


def _subscribe(wanted: Subscription) -> str:
    return json.dumps(
        {
            "action": "subscribe",
            "bars": list(wanted.bars),
            "trades": list(wanted.trades),
            "updatedBars": list(wanted.updated_bars),
            "statuses": list(wanted.statuses),
        }
    )


def quiet_minutes(url: str) -> int:
    """How many minutes in a row a symbol may normally have no bar on this stream: on the IEX feed
    a minute without an IEX trade has none (SPY/QQQ, Sep 2025 - Jan 2026: runs of 1-3 minutes; 5
    leaves room for quieter names); the SIP feed has a trade every minute for anything liquid."""
    return 5 if url.rstrip("/").endswith("/iex") else 0


PROVIDER = Provider("alpaca", "wss://stream.data.alpaca.markets/v2/iex", parse_frame, _login, _subscribe)
