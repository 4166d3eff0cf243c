"""How the hot state is stored: versioned JSON documents ``{"schema": N, "kind": K, ...}``, the
checks every value passes before it is written, and strategy snapshots.

A reader accepts the schemas it knows and refuses anything else with ``SchemaError`` -- a value is
never misread; a writer refuses a bad value with ``StateError`` before anything is stored.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

SCHEMA_VERSION = 1


class SchemaError(ValueError):
    """A stored value this build cannot read: wrong kind, unknown schema version, or malformed."""


class StateError(ValueError):
    """A value refused before it was written (wrong type, NaN, inconsistent fields)."""


# --- encoding helpers ------------------------------------------------------------------------


def encode(kind: str, payload: Mapping[str, Any]) -> str:
    """A value as its stored JSON document."""
    return json.dumps({"schema": SCHEMA_VERSION, "kind": kind, **payload}, sort_keys=True, separators=(",", ":"))


def decode(kind: str, text: str | bytes) -> dict[str, Any]:
    """The payload of a stored document of ``kind``; ``SchemaError`` if it cannot be read."""
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SchemaError(f"stored {kind} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise SchemaError(f"stored {kind} is not a JSON object")
    if doc.get("kind") != kind:
        raise SchemaError(f"stored value is a {doc.get('kind')!r}, expected {kind!r}")
    schema = doc.get("schema")
    if schema != SCHEMA_VERSION:
        raise SchemaError(f"stored {kind} has schema version {schema!r}; this build reads version {SCHEMA_VERSION}")
    return doc


def dec_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def read_dec(doc: Mapping[str, Any], key: str, kind: str) -> Decimal | None:
    raw = doc.get(key)
    if raw is None:
        return None
    try:
        value = Decimal(raw)
    except (InvalidOperation, TypeError):
        raise SchemaError(f"stored {kind}: {key} {raw!r} is not a decimal") from None
    if not value.is_finite():
        raise SchemaError(f"stored {kind}: {key} {raw!r} is not finite")
    return value


def ts_text(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def read_ts(doc: Mapping[str, Any], key: str, kind: str) -> datetime | None:
    raw = doc.get(key)
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(raw)
    except (TypeError, ValueError):
        raise SchemaError(f"stored {kind}: {key} {raw!r} is not a timestamp") from None


def check_text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise StateError(f"{name} must be a non-empty string, got {value!r}")


def check_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise StateError(f"{name} must be an integer, got {value!r}")


def check_money(name: str, value: object, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, Decimal) or not value.is_finite():
        raise StateError(f"{name} must be a finite Decimal, got {value!r}")


def check_ts(name: str, value: object, optional: bool = True) -> None:
    if value is None and optional:
        return
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise StateError(f"{name} must be a timezone-aware datetime, got {value!r}")


# --- strategy snapshots --------------------------------------------------------------------------

SNAPSHOT_KIND = "strategy_snapshot"


def encode_snapshot(strategy: str, symbol: str, snapshot: Mapping[str, Any], saved_at: datetime) -> str:
    """A strategy snapshot as a stored document; refuses non-JSON values and NaN/infinity."""
    check_text("strategy", strategy)
    check_text("symbol", symbol)
    check_ts("saved_at", saved_at, optional=False)
    if not isinstance(snapshot, Mapping):
        raise StateError(f"snapshot must be a mapping, got {type(snapshot).__name__}")
    try:
        return json.dumps(
            {
                "schema": SCHEMA_VERSION,
                "kind": SNAPSHOT_KIND,
                "strategy": strategy,
                "symbol": symbol,
                "saved_at": saved_at.isoformat(),
                "snapshot": snapshot,
            },
            sort_keys=True,
            separators=(",", ":"),
            allow_nan=False,
        )
    except (TypeError, ValueError) as exc:
        # allow_nan=False refuses NaN and infinity; only then is the snapshot walked, to say where
        check_finite(snapshot, "snapshot")
        raise StateError(f"snapshot is not JSON-serialisable: {exc}") from None


def decode_snapshot(text: str | bytes) -> dict[str, Any]:
    """The strategy snapshot stored in ``text``."""
    doc = decode(SNAPSHOT_KIND, text)
    snapshot = doc.get("snapshot")
    if not isinstance(snapshot, dict):
        raise SchemaError("stored strategy snapshot is malformed: no snapshot object")
    return snapshot


def check_finite(value: Any, where: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise StateError(f"{where} holds {value!r}; NaN and infinity are not stored")
    if isinstance(value, Mapping):
        for key, item in value.items():
            check_finite(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            check_finite(item, f"{where}[{i}]")
