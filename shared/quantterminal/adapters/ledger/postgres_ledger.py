"""The PostgreSQL ledger (Aurora Serverless v2 in AWS), on psycopg2.

- Bulk ingest goes through ``COPY`` into a temporary staging table and one
  ``INSERT … ON CONFLICT`` that replaces revised bars (bumping ``revision``) and leaves identical
  ones untouched; small batches (live minute bars) skip the staging table and use a multi-row
  ``INSERT`` instead. Either way the call is one transaction: all rows or none.
- ``bars`` and ``ticks`` are partitioned by time; partitions are created on demand (under an
  advisory lock, so concurrent ingesters do not race) and ahead of time by ``migrate`` /
  ``maintain``; ``drop_before`` drops whole partitions for retention.
- Connection-level failures are retried with backoff: every write here is idempotent.
- One connection per thread: a psycopg2 connection must never be used by two threads at once
  (the feed's bar writer and the trading side share one ledger in a paper run).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, TypeVar

import psycopg2
import psycopg2.extensions
import psycopg2.extras

from quantterminal.adapters.ledger.ledger_base import (
    FILL_FIELDS,
    ORDER_EVENT_FIELDS,
    ORDER_FIELDS,
    SIGNAL_FIELDS,
    LedgerError,
    check_equity,
    check_fill,
    check_order,
    check_order_event,
    check_risk_event,
    check_signal,
    ensure_same,
    fill_identity,
    order_event_identity,
    order_identity,
    prepare_bars,
    prepare_ticks,
    risk_event_key,
    signal_identity,
)
from quantterminal.adapters.ledger.migrations import check_applied, load_migrations
from quantterminal.adapters.retry import with_retries
from quantterminal.core.accounting.records import EquitySnapshot, IngestReport, OrderEvent, QuarantinedRecord, RiskEvent
from quantterminal.core.market_data.calendar import trading_minutes
from quantterminal.core.market_data.sessions import day_bounds
from quantterminal.core.models import Bar, Direction, Fill, Side, Signal, Trade
from quantterminal.core.trading.orders import OrderRequest, OrderType

T = TypeVar("T")
Method = Literal["auto", "copy", "insert"]
PARTITIONED = ("bars", "ticks")
COPY_THRESHOLD = 200  # below this many rows a multi-row INSERT beats COPY via a staging table
_COPY_CHUNK = 1 << 18  # bytes per read by COPY from the formatted-line stream
_RETRYABLE = (psycopg2.OperationalError, psycopg2.InterfaceError)
_BAR_COLUMNS = "symbol, ts, open, high, low, close, volume, vwap, trade_count"
_BAR_UPSERT = f"""
    INSERT INTO bars AS b ({_BAR_COLUMNS}) {{source}}
    ON CONFLICT (symbol, ts) DO UPDATE SET
        open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
        volume = EXCLUDED.volume, vwap = EXCLUDED.vwap, trade_count = EXCLUDED.trade_count,
        revision = b.revision + 1, updated_at = now()
    WHERE (b.open, b.high, b.low, b.close, b.volume, b.vwap, b.trade_count)
        IS DISTINCT FROM (EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close,
                          EXCLUDED.volume, EXCLUDED.vwap, EXCLUDED.trade_count)
    RETURNING revision = 0 AS inserted
"""
_TICK_COLUMNS = "symbol, ts, exchange, trade_id, price, size, conditions"
_TICK_INSERT = f"INSERT INTO ticks ({_TICK_COLUMNS}) {{source}} ON CONFLICT DO NOTHING RETURNING 1"


def _copy_text(value: object) -> str:
    """One field in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat()
    text = value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


class _LineStream:
    """A read-only file over lazily formatted lines, for ``copy_expert``: the server loads rows
    while Python is still formatting the rest (the server is another process, on another core)."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self._pending = ""

    def read(self, size: int = -1) -> str:
        chunks = [self._pending]
        have = len(self._pending)
        for line in self._lines:
            chunks.append(line)
            have += len(line)
            if 0 <= size <= have:
                break
        text = "".join(chunks)
        if 0 <= size < len(text):
            self._pending = text[size:]
            return text[:size]
        self._pending = ""
        return text

    def readline(self, size: int = -1) -> str:  # part of the file protocol; COPY uses read
        return self.read(size)


def _bar_copy_lines(bars: Sequence[Bar]) -> Iterator[str]:
    """Bars in COPY's text format, one line each (the hot path of bulk ingest)."""
    symbols: dict[str, str] = {}
    for b in bars:
        symbol = symbols.get(b.symbol)
        if symbol is None:
            symbol = symbols[b.symbol] = _copy_text(b.symbol)
        vwap = "\\N" if b.vwap is None else repr(b.vwap)
        count = "\\N" if b.trade_count is None else str(b.trade_count)
        yield (
            f"{symbol}\t{b.timestamp.isoformat()}\t{b.open!r}\t{b.high!r}\t{b.low!r}\t{b.close!r}"
            f"\t{b.volume}\t{vwap}\t{count}\n"
        )


def _month_start(ts: datetime) -> datetime:
    return datetime(ts.year, ts.month, 1, tzinfo=UTC)


def _next_month(start: datetime) -> datetime:
    return datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)


class PostgresLedger:
    """The ledger in PostgreSQL at ``dsn``, optionally inside ``schema`` (created by ``migrate``)."""

    def __init__(self, dsn: str, schema: str | None = None, connect_timeout: int = 5, attempts: int = 4) -> None:
        if schema is not None and not schema.replace("_", "").isalnum():
            raise ValueError(f"schema name must be letters, digits and underscores, got {schema!r}")
        self.dsn = dsn
        self.schema = schema
        self.connect_timeout = connect_timeout
        self.attempts = attempts
        self._local = threading.local()  # .conn: this thread's connection
        self._open: set[psycopg2.extensions.connection] = set()
        self._open_lock = threading.Lock()
        self._partitions: set[str] | None = None

    # --- connections and transactions ---------------------------------------------------------

    def _connect(self, autocommit: bool = False) -> psycopg2.extensions.connection:
        conn = psycopg2.connect(self.dsn, connect_timeout=self.connect_timeout, application_name="quantterminal")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
            if self.schema:
                cur.execute(f"SET search_path TO {self.schema}, public")
        conn.autocommit = autocommit
        return conn

    def _thread_connection(self) -> psycopg2.extensions.connection:
        conn: psycopg2.extensions.connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._local.conn = self._connect()
            with self._open_lock:
                self._open.add(conn)
        return conn

    def _drop_thread_connection(self, conn: psycopg2.extensions.connection) -> None:
        conn.close()
        self._local.conn = None
        with self._open_lock:
            self._open.discard(conn)

    def _transaction(self, work: Callable[[Any], T], what: str) -> T:
        def attempt() -> T:
            conn = self._thread_connection()
            try:
                with conn, conn.cursor() as cur:
                    return work(cur)
            except _RETRYABLE:
                self._drop_thread_connection(conn)
                self._partitions = None
                raise
            except psycopg2.DataError as exc:  # a value the column cannot hold: the record, not the server
                self._partitions = None
                raise LedgerError(f"postgres {what}: {str(exc).strip()}") from None
            except Exception:
                self._partitions = None  # a rolled-back transaction may have created none of them
                raise

        return with_retries(attempt, _RETRYABLE, attempts=self.attempts, what=f"postgres {what}")

    def close(self) -> None:
        """Close every thread's connection."""
        with self._open_lock:
            connections, self._open = self._open, set()
        for conn in connections:
            conn.close()
        self._local = threading.local()

    # --- schema ---------------------------------------------------------------------------------

    def migrate(self, ahead_days: int = 7, now: datetime | None = None) -> list[str]:
        """Apply pending migrations (safe to run from several processes at once) and create the
        partitions for the coming ``ahead_days``. Returns the names of the migrations applied."""
        conn = with_retries(lambda: self._connect(autocommit=True), _RETRYABLE, self.attempts, what="connect")
        applied_now: list[str] = []
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"quantterminal.migrate.{self.schema}",))
                try:
                    if self.schema:
                        cur.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
                    cur.execute(
                        "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY,"
                        " name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
                    )
                    cur.execute("SELECT version, checksum FROM schema_migrations")
                    pending = check_applied(dict(cur.fetchall()), load_migrations("postgres"))
                    for migration in pending:
                        cur.execute("BEGIN")
                        cur.execute(migration.sql)
                        cur.execute(
                            "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                            (migration.version, migration.name, migration.checksum),
                        )
                        cur.execute("COMMIT")
                        applied_now.append(f"{migration.version:04d}_{migration.name}")
                finally:
                    cur.execute("SELECT pg_advisory_unlock(hashtext(%s))", (f"quantterminal.migrate.{self.schema}",))
        finally:
            conn.close()
        self.maintain(ahead_days, now)
        return applied_now

    def applied_migrations(self) -> list[str]:
        def work(cur: Any) -> list[str]:
            cur.execute("SELECT to_regclass('schema_migrations')")
            if cur.fetchone()[0] is None:
                return []
            cur.execute("SELECT version, name FROM schema_migrations ORDER BY version")
            return [f"{v:04d}_{n}" for v, n in cur.fetchall()]

        return self._transaction(work, "status")

    def maintain(self, ahead_days: int = 7, now: datetime | None = None) -> None:
        """Create the partitions from today to ``ahead_days`` ahead (run daily)."""
        start = (now or datetime.now(UTC)).astimezone(UTC)
        self._transaction(
            lambda cur: self._ensure_partitions(cur, start, start + timedelta(days=ahead_days)),
            "maintain partitions",
        )

    def partitions(self) -> list[str]:
        """Names of the existing time partitions of bars and ticks."""
        return sorted(self._transaction(self._existing_partitions, "list partitions"))

    def _existing_partitions(self, cur: Any) -> set[str]:
        cur.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent IN (to_regclass('bars'), to_regclass('ticks'))"
        )
        return {row[0] for row in cur.fetchall()}

    def _ensure_partitions(
        self, cur: Any, first: datetime, last: datetime, tables: Sequence[str] = PARTITIONED
    ) -> None:
        if self._partitions is None:
            self._partitions = self._existing_partitions(cur)
        wanted: list[tuple[str, str, datetime, datetime]] = []
        if "bars" in tables:  # monthly
            month = _month_start(first)
            while month <= last:
                following = _next_month(month)
                wanted.append(("bars", f"bars_p{month:%Y%m}", month, following))
                month = following
        if "ticks" in tables:  # daily
            day = datetime(first.year, first.month, first.day, tzinfo=UTC)
            while day <= last:
                wanted.append(("ticks", f"ticks_p{day:%Y%m%d}", day, day + timedelta(days=1)))
                day += timedelta(days=1)
        for parent, name, lower, upper in wanted:
            if name in self._partitions:
                continue
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{self.schema}.{name}",))
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {parent} FOR VALUES FROM (%s) TO (%s)",
                (lower, upper),
            )
            self._partitions.add(name)

    def drop_before(self, cutoff: datetime, dry_run: bool = False) -> list[str]:
        """Drop the bar and tick partitions that end at or before ``cutoff``; return their names
        (with ``dry_run``, only name them)."""

        def work(cur: Any) -> list[str]:
            dropped = []
            for name in sorted(self._existing_partitions(cur)):
                kind, _, stamp = name.partition("_p")
                if kind == "bars":
                    upper = _next_month(datetime(int(stamp[:4]), int(stamp[4:6]), 1, tzinfo=UTC))
                elif kind == "ticks":
                    upper = datetime(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:8]), tzinfo=UTC) + timedelta(days=1)
                else:
                    continue
                if upper <= cutoff:
                    if not dry_run:
                        cur.execute(f"DROP TABLE {name}")
                    dropped.append(name)
            return dropped

        self._partitions = None
        return self._transaction(work, "retention")

    # --- ingest ---------------------------------------------------------------------------------

    def ingest_bars(self, bars: Sequence[Bar], method: Method = "auto") -> IngestReport:
        unique = prepare_bars(bars)
        if not unique:
            return IngestReport(unchanged=len(bars))
        first = min(b.timestamp for b in unique)
        last = max(b.timestamp for b in unique)

        def work(cur: Any) -> tuple[int, int]:
            self._ensure_partitions(cur, first, last, ("bars",))
            if self._use_copy(method, len(unique)):
                cur.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS qt_stage_bars (symbol text, ts timestamptz, open float8,"
                    " high float8, low float8, close float8, volume bigint, vwap float8, trade_count integer)"
                    " ON COMMIT DELETE ROWS"
                )
                cur.copy_expert("COPY qt_stage_bars FROM STDIN", _LineStream(_bar_copy_lines(unique)), size=_COPY_CHUNK)
                # A new row comes back with revision 0, a revised one with revision >= 1 (the
                # usual xmax trick is unavailable on partitioned tables).
                cur.execute(
                    "WITH up AS (" + _BAR_UPSERT.format(source=f"SELECT {_BAR_COLUMNS} FROM qt_stage_bars") + ")"
                    " SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up"
                )
                inserted, revised = cur.fetchone()
                return int(inserted), int(revised)
            rows = [
                (b.symbol, b.timestamp, b.open, b.high, b.low, b.close, b.volume, b.vwap, b.trade_count) for b in unique
            ]
            returned = psycopg2.extras.execute_values(
                cur, _BAR_UPSERT.format(source="VALUES %s"), rows, page_size=1000, fetch=True
            )
            inserted = sum(1 for (flag,) in returned if flag)
            return inserted, len(returned) - inserted

        inserted, revised = self._transaction(work, "ingest bars")
        return IngestReport(inserted=inserted, revised=revised, unchanged=len(bars) - inserted - revised)

    def ingest_ticks(self, trades: Sequence[Trade], method: Method = "auto") -> IngestReport:
        unique = prepare_ticks(trades)
        if not unique:
            return IngestReport(unchanged=len(trades))
        rows = [
            (t.symbol, t.timestamp, t.exchange or "", t.trade_id, t.price, t.size, ",".join(t.conditions))
            for t in unique
        ]
        first = min(t.timestamp for t in unique)
        last = max(t.timestamp for t in unique)

        def work(cur: Any) -> int:
            self._ensure_partitions(cur, first, last, ("ticks",))
            if self._use_copy(method, len(rows)):
                cur.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS qt_stage_ticks (symbol text, ts timestamptz, exchange text,"
                    " trade_id text, price float8, size bigint, conditions text) ON COMMIT DELETE ROWS"
                )
                lines = ("\t".join(_copy_text(v) for v in row) + "\n" for row in rows)
                cur.copy_expert("COPY qt_stage_ticks FROM STDIN", _LineStream(lines), size=_COPY_CHUNK)
                cur.execute(
                    "WITH ins AS ("
                    + _TICK_INSERT.format(source=f"SELECT {_TICK_COLUMNS} FROM qt_stage_ticks")
                    + ") SELECT count(*) FROM ins"
                )
                return int(cur.fetchone()[0])
            returned = psycopg2.extras.execute_values(
                cur, _TICK_INSERT.format(source="VALUES %s"), rows, page_size=1000, fetch=True
            )
            return len(returned)

        inserted = self._transaction(work, "ingest ticks")
        return IngestReport(inserted=inserted, unchanged=len(trades) - inserted)

    @staticmethod
    def _use_copy(method: Method, rows: int) -> bool:
        return method == "copy" or (method == "auto" and rows >= COPY_THRESHOLD)

    # --- market data queries --------------------------------------------------------------------

    @staticmethod
    def _bar(row: tuple[Any, ...]) -> Bar:
        symbol, ts, o, h, lo, c, volume, vwap, count = row
        return Bar(symbol, ts.astimezone(UTC), o, h, lo, c, int(volume), vwap, count)

    def bar_revision(self, symbol: str, start: datetime) -> int | None:
        def work(cur: Any) -> int | None:
            cur.execute("SELECT revision FROM bars WHERE symbol = %s AND ts = %s", (symbol, start))
            row = cur.fetchone()
            return None if row is None else int(row[0])

        return self._transaction(work, "bar revision")

    def last_bars(self, symbol: str, n: int) -> list[Bar]:
        def work(cur: Any) -> list[Bar]:
            cur.execute(f"SELECT {_BAR_COLUMNS} FROM bars WHERE symbol = %s ORDER BY ts DESC LIMIT %s", (symbol, n))
            return [self._bar(r) for r in reversed(cur.fetchall())]

        return self._transaction(work, "last bars")

    def bars_between(
        self, start: datetime, end: datetime, symbols: Sequence[str] | None = None
    ) -> dict[str, list[Bar]]:
        def work(cur: Any) -> dict[str, list[Bar]]:
            if symbols is None:
                cur.execute(
                    f"SELECT {_BAR_COLUMNS} FROM bars WHERE ts >= %s AND ts < %s ORDER BY symbol, ts",
                    (start, end),
                )
            else:
                cur.execute(
                    f"SELECT {_BAR_COLUMNS} FROM bars WHERE symbol = ANY(%s) AND ts >= %s AND ts < %s"
                    " ORDER BY symbol, ts",
                    (list(symbols), start, end),
                )
            result: dict[str, list[Bar]] = {}
            for row in cur:
                result.setdefault(row[0], []).append(self._bar(row))
            return result

        return self._transaction(work, "bars between")

    def last_ticks(self, symbol: str, n: int) -> list[Trade]:
        def work(cur: Any) -> list[Trade]:
            cur.execute(
                f"SELECT {_TICK_COLUMNS} FROM ticks WHERE symbol = %s ORDER BY ts DESC, trade_id DESC LIMIT %s",
                (symbol, n),
            )
            return [
                Trade(
                    s,
                    ts.astimezone(UTC),
                    price,
                    int(size),
                    trade_id,
                    exchange or None,
                    tuple(c for c in conditions.split(",") if c),
                )
                for s, ts, exchange, trade_id, price, size, conditions in reversed(cur.fetchall())
            ]

        return self._transaction(work, "last ticks")

    def missing_minutes(self, symbol: str, start: datetime, end: datetime) -> list[datetime]:
        expected = list(trading_minutes(start, end))
        if not expected:
            return []

        def work(cur: Any) -> set[datetime]:
            cur.execute("SELECT ts FROM bars WHERE symbol = %s AND ts >= %s AND ts < %s", (symbol, start, end))
            return {row[0].astimezone(UTC) for row in cur.fetchall()}

        present = self._transaction(work, "missing minutes")
        return [m for m in expected if m not in present]

    # --- orders, fills and the rest of the audit trail -------------------------------------------

    @staticmethod
    def _stored_equals(
        cur: Any, kind: str, key: str, select: str, params: Sequence[Any], fields: Sequence[str], new: Sequence[Any]
    ) -> bool:
        """After an INSERT ... ON CONFLICT DO NOTHING: ``True`` if it inserted; else the stored row
        (``select``) must equal ``new`` (``LedgerIntegrityError`` otherwise) and ``False``."""
        if cur.rowcount:
            return True
        cur.execute(select, params)
        stored = [
            int(v) if name in ("qty", "filled_qty") else v for name, v in zip(fields, cur.fetchone(), strict=True)
        ]
        ensure_same(kind, key, fields, stored, new)
        return False

    def record_order(self, order: OrderRequest) -> bool:
        check_order(order)

        def work(cur: Any) -> bool:
            cur.execute(
                "INSERT INTO orders (client_order_id, strategy, symbol, side, qty, order_type, limit_price,"
                " decision_time, decision_price) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (client_order_id) DO NOTHING",
                (
                    order.client_order_id,
                    order.strategy,
                    order.symbol,
                    order.side.value,
                    order.qty,
                    order.order_type.value,
                    order.limit_price,
                    order.decision_time,
                    order.decision_price,
                ),
            )
            return self._stored_equals(
                cur,
                "order",
                order.client_order_id,
                "SELECT strategy, symbol, side, qty, order_type, limit_price, decision_time, decision_price"
                " FROM orders WHERE client_order_id = %s",
                (order.client_order_id,),
                ORDER_FIELDS,
                order_identity(order),
            )

        return self._transaction(work, "record order")

    def append_order_event(self, event: OrderEvent) -> bool:
        check_order_event(event)

        def work(cur: Any) -> bool:
            cur.execute(
                "INSERT INTO order_events (event_id, client_order_id, event, ts, filled_qty, filled_avg_price,"
                " broker_order_id, details) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING",
                (
                    event.event_id,
                    event.client_order_id,
                    event.event,
                    event.timestamp,
                    event.filled_qty,
                    event.filled_avg_price,
                    event.broker_order_id,
                    json.dumps(event.details, default=str),
                ),
            )
            return self._stored_equals(
                cur,
                "order event",
                event.event_id,
                "SELECT client_order_id, event, ts, filled_qty, broker_order_id FROM order_events WHERE event_id = %s",
                (event.event_id,),
                ORDER_EVENT_FIELDS,
                order_event_identity(event),
            )

        return self._transaction(work, "append order event")

    def append_fill(self, fill: Fill) -> bool:
        check_fill(fill)

        def work(cur: Any) -> bool:
            cur.execute(
                "INSERT INTO fills (execution_id, client_order_id, symbol, side, qty, price, commission, ts)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (execution_id) DO NOTHING",
                (
                    fill.execution_id,
                    fill.order_id,
                    fill.symbol,
                    fill.side.value,
                    fill.qty,
                    fill.price,
                    fill.commission,
                    fill.timestamp,
                ),
            )
            return self._stored_equals(
                cur,
                "fill",
                fill.execution_id,
                "SELECT client_order_id, symbol, side, qty, price, commission, ts FROM fills WHERE execution_id = %s",
                (fill.execution_id,),
                FILL_FIELDS,
                fill_identity(fill),
            )

        return self._transaction(work, "append fill")

    def record_signal(self, signal: Signal) -> bool:
        check_signal(signal)

        def work(cur: Any) -> bool:
            cur.execute(
                "INSERT INTO signals (strategy, symbol, bar_time, direction, price) VALUES (%s, %s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                (signal.strategy, signal.symbol, signal.bar_time, signal.direction.value, signal.price),
            )
            return self._stored_equals(
                cur,
                "signal",
                f"{signal.strategy} {signal.symbol} {signal.bar_time.isoformat()}",
                "SELECT direction, price FROM signals WHERE strategy = %s AND symbol = %s AND bar_time = %s",
                (signal.strategy, signal.symbol, signal.bar_time),
                SIGNAL_FIELDS,
                signal_identity(signal),
            )

        return self._transaction(work, "record signal")

    def record_risk_event(self, event: RiskEvent) -> None:
        check_risk_event(event)
        self._transaction(
            lambda cur: cur.execute(
                "INSERT INTO risk_events (ts, account, kind, reason, strategy, symbol, details, event_key)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (event_key) DO NOTHING",
                (
                    event.timestamp,
                    event.account,
                    event.kind,
                    event.reason,
                    event.strategy,
                    event.symbol,
                    json.dumps(event.details, default=str),
                    risk_event_key(event),
                ),
            ),
            "record risk event",
        )

    def record_equity(self, snapshot: EquitySnapshot) -> None:
        check_equity(snapshot)
        self._transaction(
            lambda cur: cur.execute(
                "INSERT INTO equity_snapshots (account, ts, equity, cash) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (account, ts) DO UPDATE SET equity = EXCLUDED.equity, cash = EXCLUDED.cash",
                (snapshot.account, snapshot.timestamp, snapshot.equity, snapshot.cash),
            ),
            "record equity",
        )

    def orders_on(self, day: date) -> list[OrderRequest]:
        return self.orders_between(*day_bounds(day))

    def orders_between(self, start: datetime, end: datetime) -> list[OrderRequest]:

        def work(cur: Any) -> list[OrderRequest]:
            cur.execute(
                "SELECT client_order_id, strategy, symbol, side, qty, order_type, decision_time, decision_price,"
                " limit_price FROM orders WHERE decision_time >= %s AND decision_time < %s"
                " ORDER BY decision_time, client_order_id",
                (start, end),
            )
            return [
                OrderRequest(
                    coid,
                    strategy,
                    symbol,
                    Side(side),
                    int(qty),
                    OrderType(otype),
                    dt.astimezone(UTC),
                    Decimal(price),
                    limit,
                )
                for coid, strategy, symbol, side, qty, otype, dt, price, limit in cur.fetchall()
            ]

        return self._transaction(work, "orders between")

    def order_events(self, client_order_id: str) -> list[OrderEvent]:
        return self.events_of_orders([client_order_id]).get(client_order_id, [])

    def events_of_orders(self, client_order_ids: Sequence[str]) -> dict[str, list[OrderEvent]]:
        def work(cur: Any) -> dict[str, list[OrderEvent]]:
            cur.execute(
                "SELECT event_id, client_order_id, event, ts, filled_qty, filled_avg_price, broker_order_id, details"
                " FROM order_events WHERE client_order_id = ANY(%s) ORDER BY seq",
                (list(client_order_ids),),
            )
            events: dict[str, list[OrderEvent]] = {}
            for eid, coid, ev, ts, qty, avg, broker, details in cur.fetchall():
                events.setdefault(coid, []).append(
                    OrderEvent(eid, coid, ev, ts.astimezone(UTC), int(qty), avg, broker, details)
                )
            return events

        if not client_order_ids:
            return {}
        return self._transaction(work, "order events")

    def fills_on(self, day: date) -> list[Fill]:
        return self.fills_between(*day_bounds(day))

    def fills_between(self, start: datetime, end: datetime) -> list[Fill]:

        def work(cur: Any) -> list[Fill]:
            cur.execute(
                "SELECT symbol, ts, side, qty, price, commission, client_order_id, execution_id FROM fills"
                " WHERE ts >= %s AND ts < %s ORDER BY ts, execution_id",
                (start, end),
            )
            return [
                Fill(symbol, ts.astimezone(UTC), Side(side), int(qty), price, commission, coid, eid)
                for symbol, ts, side, qty, price, commission, coid, eid in cur.fetchall()
            ]

        return self._transaction(work, "fills between")

    def fills_for(self, strategy: str, symbol: str) -> list[Fill]:
        def work(cur: Any) -> list[Fill]:
            cur.execute(
                "SELECT f.symbol, f.ts, f.side, f.qty, f.price, f.commission, f.client_order_id, f.execution_id"
                " FROM fills f JOIN orders o ON o.client_order_id = f.client_order_id"
                " WHERE o.strategy = %s AND f.symbol = %s ORDER BY f.ts, f.execution_id",
                (strategy, symbol),
            )
            return [
                Fill(sym, ts.astimezone(UTC), Side(side), int(qty), price, commission, coid, eid)
                for sym, ts, side, qty, price, commission, coid, eid in cur.fetchall()
            ]

        return self._transaction(work, "fills for")

    def signals_between(self, start: datetime, end: datetime) -> list[Signal]:
        def work(cur: Any) -> list[Signal]:
            cur.execute(
                "SELECT strategy, symbol, bar_time, direction, price FROM signals"
                " WHERE bar_time >= %s AND bar_time < %s ORDER BY bar_time, strategy, symbol",
                (start, end),
            )
            return [Signal(st, sym, ts.astimezone(UTC), Direction(d), p) for st, sym, ts, d, p in cur.fetchall()]

        return self._transaction(work, "signals between")

    def risk_events_on(self, day: date) -> list[RiskEvent]:
        start, end = day_bounds(day)

        def work(cur: Any) -> list[RiskEvent]:
            cur.execute(
                "SELECT ts, account, kind, reason, strategy, symbol, details FROM risk_events"
                " WHERE ts >= %s AND ts < %s ORDER BY ts, id",
                (start, end),
            )
            return [RiskEvent(ts.astimezone(UTC), a, k, r, st, sym, d) for ts, a, k, r, st, sym, d in cur.fetchall()]

        return self._transaction(work, "risk events on")

    def equity_curve(self, account: str, start: datetime, end: datetime) -> list[EquitySnapshot]:
        def work(cur: Any) -> list[EquitySnapshot]:
            cur.execute(
                "SELECT account, ts, equity, cash FROM equity_snapshots WHERE account = %s AND ts >= %s AND ts < %s"
                " ORDER BY ts",
                (account, start, end),
            )
            return [EquitySnapshot(a, ts.astimezone(UTC), eq, cash) for a, ts, eq, cash in cur.fetchall()]

        return self._transaction(work, "equity curve")

    # --- quarantine -----------------------------------------------------------------------------

    def quarantine(self, kind: str, reason: str, record: str) -> None:
        self._transaction(
            lambda cur: cur.execute(
                "INSERT INTO quarantine (kind, reason, record) VALUES (%s, %s, %s)", (kind, reason, record)
            ),
            "quarantine",
        )

    def quarantined(self, limit: int = 100) -> list[QuarantinedRecord]:
        def work(cur: Any) -> list[QuarantinedRecord]:
            cur.execute("SELECT kind, reason, record, recorded_at FROM quarantine ORDER BY id DESC LIMIT %s", (limit,))
            return [QuarantinedRecord(k, r, rec, at.astimezone(UTC)) for k, r, rec, at in cur.fetchall()]

        return self._transaction(work, "quarantined")
