"""The frame loop every provider parser shares: decode a websocket text frame (a JSON array of
messages, or one object), convert each message, and keep going past the ones that are unusable.

Strict on purpose (corrupt data is worse than no data): a number must be a JSON number, not a
string or a boolean; a share count must be whole; a timestamp must carry its zone. Anything else
is malformed -- never coerced. No frame can end the reader: whatever a message raises (a frame
nested deeper than the parser recurses included) makes it a ``Malformed`` entry.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from quantterminal.core.market_data.feed_events import FeedEvent, Malformed, ParsedFrame
from quantterminal.core.market_data.validation import bar_problem, trade_problem
from quantterminal.core.models import Bar, Quote, Trade


@dataclass(frozen=True)
class Subscription:
    """What a feed asks for: minute bars, trades and (where offered) revised bars of symbols."""

    bars: tuple[str, ...] = ()
    trades: tuple[str, ...] = ()
    updated_bars: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()  # trading halts and resumptions


@dataclass(frozen=True)
class Provider:
    """How one provider's stream is spoken: its frame parser and its login and subscribe requests."""

    name: str
    url: str  # the live endpoint
    parse: Callable[[str | bytes], ParsedFrame]
    login: Callable[[str, str], str]  # (key, secret) -> the auth request
    subscribe: Callable[[Subscription], str]
    conditions: str = "letters"  # how its trades name sale conditions (``SaleConditionRules``)


def number(value: Any, name: str) -> float:
    """A JSON number as a float; strings, booleans, NaN and infinities are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} {value!r} is not a number")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"{name} is {value!r}; it must be finite")
    return result


def whole(value: Any, name: str) -> int:
    """A JSON number that is a whole count (``100`` or ``100.0``); fractions are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} {value!r} is not a number")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{name} {value!r} is not a whole number")
        return int(value)
    return value


def optional(value: Any, name: str, convert: Callable[[Any, str], Any]) -> Any:
    return None if value is None else convert(value, name)


def rfc3339(value: Any, name: str = "timestamp") -> datetime:
    """An RFC 3339 timestamp with its zone, in UTC; a zone-less one is refused (its meaning is a
    guess). Nanoseconds are cut to microseconds."""
    if not isinstance(value, str):
        raise ValueError(f"{name} {value!r} is not a string")
    ts = datetime.fromisoformat(value)
    if ts.tzinfo is None:
        raise ValueError(f"{name} {value!r} has no time zone")
    return ts if ts.tzinfo is UTC else ts.astimezone(UTC)  # "...Z" parses straight to UTC


def bar(symbol: str, start: datetime, m: Mapping[str, Any]) -> Bar:
    """A validated minute bar from the ``o``/``h``/``l``/``c``/``v``/``vw``/``n`` fields both
    providers use (Polygon sends no trade count)."""
    result = Bar(
        symbol,
        start,
        number(m["o"], "open"),
        number(m["h"], "high"),
        number(m["l"], "low"),
        number(m["c"], "close"),
        whole(m["v"], "volume"),
        optional(m.get("vw"), "vwap", number),
        optional(m.get("n"), "trade count", whole),
    )
    problem = bar_problem(result)
    if problem:
        raise ValueError(problem)
    return result


def trade(symbol: str, ts: datetime, m: Mapping[str, Any]) -> Trade:
    """A validated trade from the ``p``/``s``/``i``/``x``/``c`` fields both providers use."""
    price, size = m["p"], m["s"]
    result = Trade(
        symbol,
        ts,
        # the exact types pass without a call (the hot path); NaN and the rest fail trade_problem
        price if type(price) is float else number(price, "price"),
        size if type(size) is int else whole(size, "size"),
        str(m["i"]),
        "" if m.get("x") is None else str(m["x"]),  # Polygon's exchange ids are numbers (0 included)
        tuple(map(str, m.get("c") or ())),
    )
    problem = trade_problem(result)
    if problem:
        raise ValueError(problem)
    return result


def quote(symbol: str, ts: datetime, m: Mapping[str, Any]) -> Quote:
    """A quote from the ``bp``/``bs``/``ap``/``as`` fields both providers use."""
    return Quote(
        symbol,
        ts,
        number(m["bp"], "bid"),
        whole(m["bs"], "bid size"),
        number(m["ap"], "ask"),
        whole(m["as"], "ask size"),
    )


def sample(value: Any, limit: int = 200) -> str:
    """A short, printable sample of a bad message, for one log line."""
    if isinstance(value, bytes):
        text = value.decode(errors="replace")
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, default=str)
    return text[:limit]


def parse_messages(
    text: str | bytes, convert: Callable[[Mapping[str, Any]], FeedEvent | None], type_key: str
) -> ParsedFrame:
    """Every message of ``text`` through ``convert`` (``None`` = skip quietly); a message that
    raises KeyError, TypeError or ValueError becomes a ``Malformed`` entry naming ``type_key``."""
    try:
        payload = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        return ParsedFrame((), (Malformed("frame is not JSON", sample(text)),))
    except RecursionError:
        return ParsedFrame((), (Malformed("frame is nested too deeply", sample(text)),))
    if isinstance(payload, dict):
        payload = [payload]
    if not isinstance(payload, list):
        return ParsedFrame((), (Malformed("frame is not a JSON array", sample(text)),))
    events: list[FeedEvent] = []
    bad: list[Malformed] = []
    for message in payload:
        if not isinstance(message, dict):
            bad.append(Malformed("message is not a JSON object", sample(message)))
            continue
        try:
            event = convert(message)
        except Exception as exc:  # any message, however hostile, is one malformed entry
            reason = f"missing field {exc}" if isinstance(exc, KeyError) else f"{exc}"
            bad.append(Malformed(f"{str(message.get(type_key))[:20]!r} message: {reason}", sample(message)))
            continue
        if event is not None:
            events.append(event)
    return ParsedFrame(tuple(events), tuple(bad))
