"""The wire format of bar updates between the feed and its consumers (Kinesis records, the local
bus): compact JSON, versioned, exact round trip of every field."""

from __future__ import annotations

import json
from datetime import datetime

from quantterminal.core.feed_events import BarSource, BarUpdate
from quantterminal.core.models import Bar

BAR_RECORD_VERSION = 1


class RecordError(ValueError):
    """A record that is not a bar update this build can read."""


def encode_bar_update(update: BarUpdate) -> bytes:
    """``update`` as a record body."""
    b = update.bar
    return json.dumps(
        {
            "v": BAR_RECORD_VERSION,
            "src": update.source.value,
            "S": b.symbol,
            "t": b.timestamp.isoformat(),
            "o": b.open,
            "h": b.high,
            "l": b.low,
            "c": b.close,
            "vol": b.volume,
            "vw": b.vwap,
            "n": b.trade_count,
        },
        separators=(",", ":"),
        allow_nan=False,
    ).encode()


def decode_bar_update(data: bytes | str) -> BarUpdate:
    """The bar update in a record body; ``RecordError`` if it cannot be read."""
    try:
        doc = json.loads(data)
        if doc.get("v") != BAR_RECORD_VERSION:
            raise RecordError(f"bar record version {doc.get('v')!r}; this build reads {BAR_RECORD_VERSION}")
        bar = Bar(
            doc["S"],
            datetime.fromisoformat(doc["t"]),
            doc["o"],
            doc["h"],
            doc["l"],
            doc["c"],
            doc["vol"],
            doc["vw"],
            doc["n"],
        )
        return BarUpdate(bar, BarSource(doc["src"]))
    except RecordError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RecordError(f"not a bar record: {exc}") from None
