"""The frame loop every provider parser shares: decode a websocket text frame (a JSON array of
messages, or one object), convert each message, and keep going past the ones that are unusable."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from quantterminal.core.feed_events import FeedEvent, Malformed, ParsedFrame


@dataclass(frozen=True)
class Subscription:
    """What a feed asks for: minute bars, trades and (where offered) revised bars of symbols."""

    bars: tuple[str, ...] = ()
    trades: tuple[str, ...] = ()
    updated_bars: tuple[str, ...] = ()


@dataclass(frozen=True)
class Provider:
    """How one provider's stream is spoken: its frame parser and its login and subscribe requests."""

    name: str
    url: str  # the live endpoint
    parse: Callable[[str | bytes], ParsedFrame]
    login: Callable[[str, str], str]  # (key, secret) -> the auth request
    subscribe: Callable[[Subscription], str]


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
        except (KeyError, TypeError, ValueError) as exc:
            reason = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            bad.append(Malformed(f"{message.get(type_key)!r} message: {reason}", sample(message)))
            continue
        if event is not None:
            events.append(event)
    return ParsedFrame(tuple(events), tuple(bad))
