"""Alpaca market data stream v2: text frames -> the core's Trade, Quote and BarUpdate.

Every frame is a JSON array of messages told apart by ``T``: trades ``t``, quotes ``q``, minute
bars ``b``, revised minute bars ``u`` (updatedBars), daily bars ``d``, trade cancels ``x`` and
corrections ``c``, trading status ``s``, control ``success``/``subscription``/``error``. Anything
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


_ts = rfc3339


def _trade(m: Mapping[str, Any]) -> Trade:
    return trade(str(m["S"]), _ts(m["t"]), m)


def bar_from_message(m: Mapping[str, Any], symbol: str | None = None) -> Bar:
    """A bar in Alpaca's format (stream ``b``/``u``/``d`` messages and historical bars share it)."""
    return bar(symbol or str(m["S"]), _ts(m["t"]), m)


def _message(m: Mapping[str, Any]) -> FeedEvent:
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
        return Control("status", f"{m.get('S')}: {m.get('sm')} ({m.get('rm')})")
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
        }
    )


PROVIDER = Provider("alpaca", "wss://stream.data.alpaca.markets/v2/iex", parse_frame, _login, _subscribe)
