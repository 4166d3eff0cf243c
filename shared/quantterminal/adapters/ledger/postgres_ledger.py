"""The PostgreSQL ledger (Aurora Serverless v2 in AWS), on psycopg2.

- Bulk ingest goes through ``COPY`` into a temporary staging table and one
  ``INSERT … ON CONFLICT`` that replaces revised bars (bumping ``revision``) and leaves identical
  ones untouched; small batches (live minute bars) skip the staging table and use a multi-row
  ``INSERT`` instead. Either way the call is one transaction: all rows or none.
- ``bars`` and ``ticks`` are partitioned by time; partitions are created on demand (under an
  advisory lock, so concurrent ingesters do not race) and ahead of time by ``migrate`` /
  ``maintain``; ``drop_before`` drops whole partitions for retention.
- The statements it shares with SQLite live in ``sql_core``; here is what is PostgreSQL's own.
- Connection-level failures are retried with backoff: every write here is idempotent. A refused
  password (Aurora's secret rotated while this process kept the old one) re-reads the credentials
  (``credentials``: a fresh DSN, e.g. from Secrets Manager) once and reconnects.
- One connection per thread: a psycopg2 connection must never be used by two threads at once
  (the feed's bar writer and the trading side share one ledger in a paper run).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

import psycopg2
import psycopg2.extensions
import psycopg2.extras

from quantterminal.adapters.ledger.ledger_base import prepare_bars, prepare_ticks
from quantterminal.adapters.ledger.migrations import check_applied, load_migrations
from quantterminal.adapters.ledger.postgres_copy import COPY_CHUNK, LineStream, bar_copy_lines, copy_text
from quantterminal.adapters.ledger.sql_audit import SqlAuditLedger
from quantterminal.adapters.ledger.sql_dialect import BAR_COLUMNS, POSTGRES, TICK_COLUMNS
from quantterminal.adapters.retry import with_retries
from quantterminal.core.market_data.ports import IngestReport
from quantterminal.core.models import Bar, Trade
from quantterminal.errors import LedgerError

T = TypeVar("T")
log = logging.getLogger(__name__)
Method = Literal["auto", "copy", "insert"]
PARTITIONED = ("bars", "ticks")
COPY_THRESHOLD = 200  # below this many rows a multi-row INSERT beats COPY via a staging table
_RETRYABLE = (psycopg2.OperationalError, psycopg2.InterfaceError)
_BAR_UPSERT = f"""
    INSERT INTO bars AS b ({BAR_COLUMNS}) {{source}}
    ON CONFLICT (symbol, ts) DO UPDATE SET
        open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
        volume = EXCLUDED.volume, vwap = EXCLUDED.vwap, trade_count = EXCLUDED.trade_count,
        revision = b.revision + 1, updated_at = now()
    WHERE (b.open, b.high, b.low, b.close, b.volume, b.vwap, b.trade_count)
        IS DISTINCT FROM (EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close,
                          EXCLUDED.volume, EXCLUDED.vwap, EXCLUDED.trade_count)
    RETURNING revision = 0 AS inserted
"""
_TICK_INSERT = f"INSERT INTO ticks ({TICK_COLUMNS}) {{source}} ON CONFLICT DO NOTHING RETURNING 1"


def _month_start(ts: datetime) -> datetime:
    return datetime(ts.year, ts.month, 1, tzinfo=UTC)


def _next_month(start: datetime) -> datetime:
    return datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)


class PostgresLedger(SqlAuditLedger):
    """The ledger in PostgreSQL at ``dsn``, optionally inside ``schema`` (created by ``migrate``)."""

    dialect = POSTGRES

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
        self.credentials: Callable[[], str] | None = None  # a fresh DSN after a password rotation

    # --- connections and transactions ---------------------------------------------------------

    def _connect(self, autocommit: bool = False) -> psycopg2.extensions.connection:
        try:
            conn = psycopg2.connect(self.dsn, connect_timeout=self.connect_timeout, application_name="quantterminal")
        except psycopg2.OperationalError as exc:
            if self.credentials is None or "password authentication failed" not in str(exc):
                raise
            log.warning("the database refused the password: re-reading the credentials (rotated?)")
            self.dsn = self.credentials()
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

    def _transaction(self, work: Callable[[Any], T], what: str, implicit: bool = False) -> T:
        """``work`` in a transaction on this thread's connection, retried on a lost connection.
        ``implicit``: each query string ``work`` sends is a transaction of its own (PostgreSQL
        runs a string of several statements as one) -- no BEGIN and COMMIT round trips."""

        def attempt() -> T:
            conn = self._thread_connection()
            try:
                if implicit:
                    conn.autocommit = True
                    try:
                        with conn.cursor() as cur:
                            return work(cur)
                    finally:
                        if not conn.closed:
                            conn.autocommit = False
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

    def _write(self, work: Callable[[Any], T], what: str) -> T:
        return self._transaction(work, what)

    def _write_statements(self, work: Callable[[Any], T], what: str) -> T:
        return self._transaction(work, what, implicit=True)

    def _read(self, sql: str, params: Sequence[Any], what: str) -> list[Any]:
        def work(cur: Any) -> list[Any]:
            cur.execute(sql, params)
            rows: list[Any] = cur.fetchall()
            return rows

        return self._transaction(work, what)

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
                cur.copy_expert("COPY qt_stage_bars FROM STDIN", LineStream(bar_copy_lines(unique)), size=COPY_CHUNK)
                # A new row comes back with revision 0, a revised one with revision >= 1 (the
                # usual xmax trick is unavailable on partitioned tables).
                cur.execute(
                    "WITH up AS (" + _BAR_UPSERT.format(source=f"SELECT {BAR_COLUMNS} FROM qt_stage_bars") + ")"
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
                lines = ("\t".join(copy_text(v) for v in row) + "\n" for row in rows)
                cur.copy_expert("COPY qt_stage_ticks FROM STDIN", LineStream(lines), size=COPY_CHUNK)
                cur.execute(
                    "WITH ins AS ("
                    + _TICK_INSERT.format(source=f"SELECT {TICK_COLUMNS} FROM qt_stage_ticks")
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
