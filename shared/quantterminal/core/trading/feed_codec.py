"""The wire formats between the feed and its consumers (Kinesis records, the local bus): bar
updates and broker order updates as compact, versioned JSON with an exact round trip of every
field (prices of executions as decimal strings, never floats)."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from quantterminal.core.accounting.orders import OrderUpdate
from quantterminal.core.market_data.feed_events import BarSource, BarUpdate, TradingStatus
from quantterminal.core.models import Bar, Execution

BAR_RECORD_VERSION = 1
ORDER_RECORD_VERSION = 1
STATUS_KIND = "status"  # a trading halt or resumption, on the bars stream beside its symbol's bars
FeedRecord = BarUpdate | TradingStatus


class RecordError(ValueError):
    """A record that is not a bar or order update this build can read."""


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


def encode_trading_status(status: TradingStatus) -> bytes:
    """A trading halt or resumption as a record body (on the bars stream, keyed by its symbol, so
    it stays in order with the symbol's bars)."""
    return json.dumps(
        {
            "v": BAR_RECORD_VERSION,
            "kind": STATUS_KIND,
            "S": status.symbol,
            "t": status.timestamp.isoformat(),
            "halted": status.halted,
            "code": status.code,
            "reason": status.reason,
        },
        separators=(",", ":"),
    ).encode()


def encode_feed_record(item: FeedRecord) -> bytes:
    """A bar update or a trading status as a record body."""
    return encode_trading_status(item) if isinstance(item, TradingStatus) else encode_bar_update(item)


def decode_feed_record(data: bytes | str) -> FeedRecord:
    """What a bars-stream record holds: a bar update or a trading status; ``RecordError`` if it
    cannot be read."""
    try:
        doc = json.loads(data)  # once: a bar record (nearly all of them) is built from this parse
        if isinstance(doc, dict) and doc.get("kind") == STATUS_KIND:
            if doc.get("v") != BAR_RECORD_VERSION or not isinstance(doc["halted"], bool):
                raise RecordError(f"unreadable status record (version {doc.get('v')!r})")
            return TradingStatus(
                str(doc["S"]), doc["halted"], _utc(doc["t"]), str(doc.get("code", "")), str(doc.get("reason", ""))
            )
    except RecordError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RecordError(f"not a status record: {exc}") from None
    return _bar_update(doc)


def decode_bar_update(data: bytes | str) -> BarUpdate:
    """The bar update in a record body; ``RecordError`` if it cannot be read."""
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise RecordError(f"not a bar record: {exc}") from None
    return _bar_update(doc)


def _bar_update(doc: Any) -> BarUpdate:
    try:
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


def encode_order_update(update: OrderUpdate) -> bytes:
    """A broker order update as a record body (the "orders" stream)."""
    e = update.execution
    return json.dumps(
        {
            "v": ORDER_RECORD_VERSION,
            "id": update.client_order_id,
            "ev": update.event,
            "t": update.timestamp.isoformat(),
            "cum": update.cum_filled_qty,
            "bid": update.broker_order_id,
            "avg": None if update.filled_avg_price is None else str(update.filled_avg_price),
            "x": None
            if e is None
            else {"id": e.execution_id, "q": e.qty, "p": str(e.price), "t": e.timestamp.isoformat(), "c": e.cum_qty},
        },
        separators=(",", ":"),
    ).encode()


def decode_order_update(data: bytes | str) -> OrderUpdate:
    """The order update in a record body; ``RecordError`` if it cannot be read."""
    try:
        doc = json.loads(data)
        if doc.get("v") != ORDER_RECORD_VERSION:
            raise RecordError(f"order record version {doc.get('v')!r}; this build reads {ORDER_RECORD_VERSION}")
        x = doc["x"]
        execution = None
        if x is not None:
            cum = x.get("c")
            execution = Execution(
                str(x["id"]), int(x["q"]), Decimal(x["p"]), _utc(x["t"]), None if cum is None else int(cum)
            )
        avg = doc.get("avg")  # absent in records of earlier builds
        return OrderUpdate(
            str(doc["id"]),
            str(doc["ev"]),
            _utc(doc["t"]),
            int(doc["cum"]),
            execution,
            doc["bid"],
            None if avg is None else Decimal(avg),
        )
    except RecordError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, InvalidOperation) as exc:
        raise RecordError(f"not an order record: {exc}") from None


def _utc(text: str) -> datetime:
    ts = datetime.fromisoformat(text)
    if ts.tzinfo is None:
        raise RecordError(f"timestamp {text!r} has no UTC offset")
    return ts
