"""The SQLite ledger: the embedded twin of the PostgreSQL ledger (stdlib ``sqlite3``).

Times are stored as integer microseconds since the epoch (UTC), money as exact decimal text.
The statements it shares with PostgreSQL live in ``sql_core``; here is what is SQLite's
own: the connection, migrations, ingest, retention. Every write is one ``BEGIN IMMEDIATE``
transaction, so several processes can share the file (WAL mode) and a failed call leaves nothing
behind. There are no partitions: retention deletes rows.

Analytics rows (equity snapshots: one a minute, every minute of a fast replay) are held in memory
and written together, in a transaction of their own: before any other write or read of this
ledger, when ``RELAXED_ROWS`` are waiting, when the oldest has waited ``RELAXED_SECONDS``, and on
close. A crash may lose that last moment of them, as PostgreSQL's relaxed commit may; never an
order, fill or event. A run at the market's pace writes each at once (a minute apart).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any, TypeVar

from quantterminal.adapters.ledger.ledger_base import prepare_bars, prepare_ticks
from quantterminal.adapters.ledger.migrations import check_applied, load_migrations
from quantterminal.adapters.ledger.sql_audit import SqlAuditLedger
from quantterminal.adapters.ledger.sql_dialect import SQLITE, micros
from quantterminal.adapters.retry import with_retries
from quantterminal.core.market_data.ports import IngestReport
from quantterminal.core.models import Bar, Trade
from quantterminal.errors import LedgerError

T = TypeVar("T")
RELAXED_ROWS = 256
RELAXED_SECONDS = 1.0


_us = micros


def _split_statements(script: str) -> list[str]:
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip() and not all(ln.strip().startswith("--") for ln in buffer.strip().splitlines()):
        raise ValueError(f"incomplete SQL statement at the end of a migration: {buffer.strip()[:80]}")
    return statements


class SqliteLedger(SqlAuditLedger):
    """The ledger in the SQLite file at ``path`` (``:memory:`` for a private in-memory one)."""

    dialect = SQLITE

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        # Two processes opening a new file at once: one may be told "database is locked" at once
        # (SQLite skips the busy wait where waiting could deadlock), so the switch is tried again.
        with_retries(
            lambda: self._conn.execute("PRAGMA journal_mode=WAL"),
            (sqlite3.OperationalError,),
            attempts=8,
            base=0.01,
            cap=0.5,
            what="sqlite WAL mode",
        )
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._lock = threading.RLock()
        self._relaxed: list[tuple[str, Sequence[Any]]] = []  # analytics rows waiting (see the module docs)
        self._relaxed_since = 0.0  # monotonic time the oldest of them came

    def _write_relaxed(self, sql: str, params: Sequence[Any], what: str) -> None:
        with self._lock:
            if not self._relaxed:
                self._relaxed_since = time.monotonic()
            self._relaxed.append((sql, params))
            if len(self._relaxed) >= RELAXED_ROWS or time.monotonic() - self._relaxed_since >= RELAXED_SECONDS:
                self._flush_relaxed()

    def _flush_relaxed(self) -> None:
        """Write the waiting analytics rows in one transaction (runs of one statement in one call)."""
        with self._lock:
            waiting, self._relaxed = self._relaxed, []
            if not waiting:
                return

            def work(cur: Any) -> None:
                for sql, run in groupby(waiting, key=itemgetter(0)):
                    cur.executemany(sql, [params for _, params in run])

            self._transaction(work, "analytics rows")

    def _write(self, work: Callable[[Any], T], what: str = "write") -> T:
        """``work`` on a cursor inside one ``BEGIN IMMEDIATE`` transaction (the analytics rows
        waiting are written first, in their own)."""
        with self._lock:
            self._flush_relaxed()
            return self._transaction(work, what)

    def _write_statements(self, work: Callable[[Any], T], what: str) -> T:
        # each statement commits on its own (the connection autocommits outside BEGIN): a single
        # write needs no BEGIN and COMMIT calls, each of which lets another thread take the GIL
        with self._lock:
            self._flush_relaxed()
            try:
                return work(self._conn.cursor())
            except OverflowError as exc:  # an integer beyond SQLite's 64 bits: the record, not the file
                raise LedgerError(f"sqlite {what}: {exc}") from None

    def _transaction(self, work: Callable[[Any], T], what: str) -> T:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(self._conn.cursor())
            except OverflowError as exc:  # an integer beyond SQLite's 64 bits: the record, not the file
                self._conn.execute("ROLLBACK")
                raise LedgerError(f"sqlite {what}: {exc}") from None
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            return result

    def _read(self, sql: str, params: Sequence[Any] = (), what: str = "read") -> list[Any]:
        with self._lock:
            self._flush_relaxed()
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            try:
                self._flush_relaxed()
            finally:
                self._conn.close()

    # --- schema ---------------------------------------------------------------------------------

    def migrate(self, ahead_days: int = 7, now: datetime | None = None) -> list[str]:
        """Apply pending migrations in one transaction (other processes wait for it)."""
        del ahead_days, now  # no partitions to create ahead

        def work(conn: Any) -> list[str]:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                " checksum TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
            )
            applied = dict(conn.execute("SELECT version, checksum FROM schema_migrations").fetchall())
            done = []
            for migration in check_applied(applied, load_migrations("sqlite")):
                for statement in _split_statements(migration.sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)",
                    (migration.version, migration.name, migration.checksum),
                )
                done.append(f"{migration.version:04d}_{migration.name}")
            return done

        return self._write(work)

    def applied_migrations(self) -> list[str]:
        exists = self._read("SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations'")
        if not exists:
            return []
        return [f"{v:04d}_{n}" for v, n in self._read("SELECT version, name FROM schema_migrations ORDER BY version")]

    def maintain(self, ahead_days: int = 7, now: datetime | None = None) -> None:
        """Nothing to do: SQLite tables are not partitioned."""

    def partitions(self) -> list[str]:
        return []

    def drop_before(self, cutoff: datetime, dry_run: bool = False) -> list[str]:
        """Delete bars and ticks older than ``cutoff``; describe what went (with ``dry_run``,
        what would go)."""
        cut = _us(cutoff)

        def work(conn: Any) -> list[str]:
            counts = []
            for table in ("bars", "ticks"):
                if dry_run:
                    (n,) = conn.execute(f"SELECT count(*) FROM {table} WHERE ts < ?", (cut,)).fetchone()
                else:
                    n = conn.execute(f"DELETE FROM {table} WHERE ts < ?", (cut,)).rowcount
                counts.append(f"{table}: {n} rows")
            return counts

        return self._write(work)

    # --- ingest ---------------------------------------------------------------------------------

    def ingest_bars(self, bars: Sequence[Bar], method: str = "auto") -> IngestReport:
        del method  # one way in SQLite
        unique = prepare_bars(bars)
        if not unique:
            return IngestReport(unchanged=len(bars))
        by_symbol: dict[str, list[Bar]] = {}
        for bar in unique:
            by_symbol.setdefault(bar.symbol, []).append(bar)

        def work(conn: Any) -> tuple[int, int]:
            now = _us(datetime.now(UTC))
            new_rows, changed_rows = [], []
            for symbol, group in by_symbol.items():
                stamps = [_us(b.timestamp) for b in group]
                stored = {
                    row[0]: row[1:]
                    for row in conn.execute(
                        "SELECT ts, open, high, low, close, volume, vwap, trade_count FROM bars"
                        " WHERE symbol = ? AND ts BETWEEN ? AND ?",
                        (symbol, min(stamps), max(stamps)),
                    )
                }
                for bar, ts in zip(group, stamps, strict=True):
                    values = (bar.open, bar.high, bar.low, bar.close, bar.volume, bar.vwap, bar.trade_count)
                    old = stored.get(ts)
                    if old is None:
                        new_rows.append((symbol, ts, *values, now))
                    elif old != values:
                        changed_rows.append((*values, now, symbol, ts))
            conn.executemany(
                "INSERT INTO bars (symbol, ts, open, high, low, close, volume, vwap, trade_count, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                new_rows,
            )
            conn.executemany(
                "UPDATE bars SET open = ?, high = ?, low = ?, close = ?, volume = ?, vwap = ?, trade_count = ?,"
                " updated_at = ?, revision = revision + 1 WHERE symbol = ? AND ts = ?",
                changed_rows,
            )
            return len(new_rows), len(changed_rows)

        inserted, revised = self._write(work)
        return IngestReport(inserted=inserted, revised=revised, unchanged=len(bars) - inserted - revised)

    def ingest_ticks(self, trades: Sequence[Trade], method: str = "auto") -> IngestReport:
        del method
        unique = prepare_ticks(trades)
        rows = [
            (
                t.symbol,
                _us(t.timestamp),
                t.exchange or "",
                t.trade_id,
                t.price,
                t.size,
                ",".join(t.conditions),
            )
            for t in unique
        ]

        def work(conn: Any) -> int:
            inserted: int = conn.executemany(
                "INSERT INTO ticks (symbol, ts, exchange, trade_id, price, size, conditions)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                rows,
            ).rowcount
            return inserted

        inserted = self._write(work) if rows else 0
        return IngestReport(inserted=inserted, unchanged=len(trades) - inserted)
