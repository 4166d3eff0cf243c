"""How SQLite and PostgreSQL store what the ledger's shared SQL (``sql_core``) writes: times, money,
JSON, and the driver's placeholder -- one ``Dialect`` value each."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
IN_CHUNK = 500  # ids per IN (...) list: within SQLite's limit on bound parameters
BAR_COLUMNS = "symbol, ts, open, high, low, close, volume, vwap, trade_count"
TICK_COLUMNS = "symbol, ts, exchange, trade_id, price, size, conditions"


def micros(ts: datetime) -> int:
    """Integer microseconds since the epoch: how SQLite stores a time."""
    return (ts - _EPOCH) // _MICRO


@dataclass(frozen=True)
class Dialect:
    """How one database stores what the SQL core writes."""

    name: str
    placeholder: str  # the driver's: "?" (sqlite3) or "%s" (psycopg2)
    time_as_micros: bool  # SQLite: integer microseconds since the epoch; PostgreSQL: timestamptz
    money_as_text: bool  # SQLite: exact decimal text; PostgreSQL: NUMERIC
    json_as_text: bool  # SQLite: TEXT; PostgreSQL: jsonb (read back as objects)
    # put before a statement whose commit need not wait for the disk (an analytics row): in the
    # same query string, so that it lasts exactly as long as the statement's own transaction
    relaxed: str = ""

    def sql(self, statement: str) -> str:
        return statement if self.placeholder == "?" else statement.replace("?", self.placeholder)

    def time(self, ts: datetime) -> object:
        return micros(ts) if self.time_as_micros else ts

    def read_time(self, value: Any) -> datetime:
        return _EPOCH + timedelta(microseconds=value) if self.time_as_micros else value.astimezone(UTC)

    def money(self, value: Decimal | None) -> object:
        return None if value is None else str(value) if self.money_as_text else value

    def read_money(self, value: Any) -> Decimal | None:
        return None if value is None else Decimal(value) if self.money_as_text else value

    def read_json(self, value: Any) -> dict[str, Any]:
        return json.loads(value) if self.json_as_text else dict(value)


SQLITE = Dialect("sqlite", "?", time_as_micros=True, money_as_text=True, json_as_text=True)
POSTGRES = Dialect(
    "postgres",
    "%s",
    time_as_micros=False,
    money_as_text=False,
    json_as_text=False,
    relaxed="SET LOCAL synchronous_commit TO OFF; ",
)


class Transaction(Protocol):
    """What a write runs against: a DB-API cursor inside one transaction."""

    rowcount: int

    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...
    def fetchone(self) -> Any: ...
