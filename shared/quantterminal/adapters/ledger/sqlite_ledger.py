"""The SQLite ledger: the embedded twin of the PostgreSQL ledger (stdlib ``sqlite3``).

Times are stored as integer microseconds since the epoch (UTC), money as exact decimal text.
Every write is one ``BEGIN IMMEDIATE`` transaction, so several processes can share the file (WAL
mode) and a failed call leaves nothing behind. There are no partitions: retention deletes rows.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

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
from quantterminal.core.accounting.records import EquitySnapshot, IngestReport, OrderEvent, QuarantinedRecord, RiskEvent
from quantterminal.core.market_data.calendar import trading_minutes
from quantterminal.core.market_data.sessions import day_bounds
from quantterminal.core.models import Bar, Direction, Fill, Side, Signal, Trade
from quantterminal.core.trading.orders import OrderRequest, OrderType

T = TypeVar("T")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def _us(ts: datetime) -> int:
    return (ts - _EPOCH) // _MICRO


def _dt(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


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


class SqliteLedger:
    """The ledger in the SQLite file at ``path`` (``:memory:`` for a private in-memory one)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._lock = threading.RLock()

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(self._conn)
            except OverflowError as exc:  # an integer beyond SQLite's 64 bits: the record, not the file
                self._conn.execute("ROLLBACK")
                raise LedgerError(f"sqlite: {exc}") from None
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            return result

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # --- schema ---------------------------------------------------------------------------------

    def migrate(self, ahead_days: int = 7, now: datetime | None = None) -> list[str]:
        """Apply pending migrations in one transaction (other processes wait for it)."""
        del ahead_days, now  # no partitions to create ahead

        def work(conn: sqlite3.Connection) -> list[str]:
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

        def work(conn: sqlite3.Connection) -> list[str]:
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

        def work(conn: sqlite3.Connection) -> tuple[int, int]:
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

        def work(conn: sqlite3.Connection) -> int:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO ticks (symbol, ts, exchange, trade_id, price, size, conditions)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            return conn.total_changes - before

        inserted = self._write(work) if rows else 0
        return IngestReport(inserted=inserted, unchanged=len(trades) - inserted)

    # --- market data queries --------------------------------------------------------------------

    @staticmethod
    def _bar(row: Sequence[Any]) -> Bar:
        symbol, ts, o, h, lo, c, volume, vwap, count = row
        return Bar(symbol, _dt(ts), o, h, lo, c, volume, vwap, count)

    _BAR_COLUMNS = "symbol, ts, open, high, low, close, volume, vwap, trade_count"

    def bar_revision(self, symbol: str, start: datetime) -> int | None:
        rows = self._read("SELECT revision FROM bars WHERE symbol = ? AND ts = ?", (symbol, _us(start)))
        return None if not rows else int(rows[0][0])

    def last_bars(self, symbol: str, n: int) -> list[Bar]:
        rows = self._read(
            f"SELECT {self._BAR_COLUMNS} FROM bars WHERE symbol = ? ORDER BY ts DESC LIMIT ?", (symbol, n)
        )
        return [self._bar(r) for r in reversed(rows)]

    def bars_between(
        self, start: datetime, end: datetime, symbols: Sequence[str] | None = None
    ) -> dict[str, list[Bar]]:
        result: dict[str, list[Bar]] = {}
        names = (
            list(symbols)
            if symbols is not None
            else [r[0] for r in self._read("SELECT DISTINCT symbol FROM bars ORDER BY symbol")]
        )
        for symbol in names:
            rows = self._read(
                f"SELECT {self._BAR_COLUMNS} FROM bars WHERE symbol = ? AND ts >= ? AND ts < ? ORDER BY ts",
                (symbol, _us(start), _us(end)),
            )
            if rows:
                result[symbol] = [self._bar(r) for r in rows]
        return result

    def last_ticks(self, symbol: str, n: int) -> list[Trade]:
        rows = self._read(
            "SELECT symbol, ts, exchange, trade_id, price, size, conditions FROM ticks WHERE symbol = ?"
            " ORDER BY ts DESC, trade_id DESC LIMIT ?",
            (symbol, n),
        )
        return [
            Trade(
                s,
                _dt(ts),
                price,
                size,
                trade_id,
                exchange or None,
                tuple(c for c in conditions.split(",") if c),
            )
            for s, ts, exchange, trade_id, price, size, conditions in reversed(rows)
        ]

    def missing_minutes(self, symbol: str, start: datetime, end: datetime) -> list[datetime]:
        expected = list(trading_minutes(start, end))
        if not expected:
            return []
        present = {
            r[0]
            for r in self._read(
                "SELECT ts FROM bars WHERE symbol = ? AND ts >= ? AND ts < ?", (symbol, _us(start), _us(end))
            )
        }
        return [m for m in expected if _us(m) not in present]

    # --- orders, fills and the rest of the audit trail -------------------------------------------

    def _insert(self, sql: str, params: Sequence[Any]) -> bool:
        return bool(self._write(lambda conn: conn.execute(sql, params).rowcount))

    def _insert_once(
        self,
        sql: str,
        params: Sequence[Any],
        stored_sql: str,
        key: Sequence[Any],
        check: Callable[[Sequence[Any]], None],
    ) -> bool:
        """Insert unless the key is stored; a stored row must then equal the new one (``check``)."""

        def work(conn: sqlite3.Connection) -> bool:
            if conn.execute(sql, params).rowcount:
                return True
            check(conn.execute(stored_sql, key).fetchone())
            return False

        return self._write(work)

    def record_order(self, order: OrderRequest) -> bool:
        check_order(order)
        return self._insert_once(
            "INSERT OR IGNORE INTO orders (client_order_id, strategy, symbol, side, qty, order_type, limit_price,"
            " decision_time, decision_price) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                order.client_order_id,
                order.strategy,
                order.symbol,
                order.side.value,
                order.qty,
                order.order_type.value,
                None if order.limit_price is None else str(order.limit_price),
                _us(order.decision_time),
                str(order.decision_price),
            ),
            "SELECT strategy, symbol, side, qty, order_type, limit_price, decision_time, decision_price"
            " FROM orders WHERE client_order_id = ?",
            (order.client_order_id,),
            lambda row: ensure_same(
                "order",
                order.client_order_id,
                ORDER_FIELDS,
                (*row[:5], _dec(row[5]), _dt(row[6]), Decimal(row[7])),
                order_identity(order),
            ),
        )

    def append_order_event(self, event: OrderEvent) -> bool:
        check_order_event(event)
        return self._insert_once(
            "INSERT OR IGNORE INTO order_events (event_id, client_order_id, event, ts, filled_qty, filled_avg_price,"
            " broker_order_id, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                event.event_id,
                event.client_order_id,
                event.event,
                _us(event.timestamp),
                event.filled_qty,
                None if event.filled_avg_price is None else str(event.filled_avg_price),
                event.broker_order_id,
                json.dumps(event.details, default=str),
            ),
            "SELECT client_order_id, event, ts, filled_qty, broker_order_id FROM order_events WHERE event_id = ?",
            (event.event_id,),
            lambda row: ensure_same(
                "order event",
                event.event_id,
                ORDER_EVENT_FIELDS,
                (row[0], row[1], _dt(row[2]), row[3], row[4]),
                order_event_identity(event),
            ),
        )

    def append_fill(self, fill: Fill) -> bool:
        check_fill(fill)
        return self._insert_once(
            "INSERT OR IGNORE INTO fills (execution_id, client_order_id, symbol, side, qty, price, commission, ts)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                fill.execution_id,
                fill.order_id,
                fill.symbol,
                fill.side.value,
                fill.qty,
                str(fill.price),
                str(fill.commission),
                _us(fill.timestamp),
            ),
            "SELECT client_order_id, symbol, side, qty, price, commission, ts FROM fills WHERE execution_id = ?",
            (fill.execution_id,),
            lambda row: ensure_same(
                "fill",
                fill.execution_id,
                FILL_FIELDS,
                (*row[:4], Decimal(row[4]), Decimal(row[5]), _dt(row[6])),
                fill_identity(fill),
            ),
        )

    def record_signal(self, signal: Signal) -> bool:
        check_signal(signal)
        key = (signal.strategy, signal.symbol, _us(signal.bar_time))
        return self._insert_once(
            "INSERT OR IGNORE INTO signals (strategy, symbol, bar_time, direction, price) VALUES (?, ?, ?, ?, ?)",
            (*key, signal.direction.value, signal.price),
            "SELECT direction, price FROM signals WHERE strategy = ? AND symbol = ? AND bar_time = ?",
            key,
            lambda row: ensure_same(
                "signal",
                f"{signal.strategy} {signal.symbol} {signal.bar_time.isoformat()}",
                SIGNAL_FIELDS,
                row,
                signal_identity(signal),
            ),
        )

    def record_risk_event(self, event: RiskEvent) -> None:
        check_risk_event(event)
        self._insert(
            "INSERT OR IGNORE INTO risk_events (ts, account, kind, reason, strategy, symbol, details, event_key)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                _us(event.timestamp),
                event.account,
                event.kind,
                event.reason,
                event.strategy,
                event.symbol,
                json.dumps(event.details, default=str),
                risk_event_key(event),
            ),
        )

    def record_equity(self, snapshot: EquitySnapshot) -> None:
        check_equity(snapshot)
        self._insert(
            "INSERT INTO equity_snapshots (account, ts, equity, cash) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (account, ts) DO UPDATE SET equity = excluded.equity, cash = excluded.cash",
            (snapshot.account, _us(snapshot.timestamp), str(snapshot.equity), str(snapshot.cash)),
        )

    def orders_on(self, day: date) -> list[OrderRequest]:
        return self.orders_between(*day_bounds(day))

    def orders_between(self, start: datetime, end: datetime) -> list[OrderRequest]:
        rows = self._read(
            "SELECT client_order_id, strategy, symbol, side, qty, order_type, decision_time, decision_price,"
            " limit_price FROM orders WHERE decision_time >= ? AND decision_time < ? ORDER BY decision_time,"
            " client_order_id",
            (_us(start), _us(end)),
        )
        return [
            OrderRequest(
                coid,
                strategy,
                symbol,
                Side(side),
                qty,
                OrderType(otype),
                _dt(dt),
                Decimal(price),
                _dec(limit),
            )
            for coid, strategy, symbol, side, qty, otype, dt, price, limit in rows
        ]

    def order_events(self, client_order_id: str) -> list[OrderEvent]:
        return self.events_of_orders([client_order_id]).get(client_order_id, [])

    def events_of_orders(self, client_order_ids: Sequence[str]) -> dict[str, list[OrderEvent]]:
        events: dict[str, list[OrderEvent]] = {}
        ids = list(dict.fromkeys(client_order_ids))
        for i in range(0, len(ids), 500):  # within SQLite's limit on bound parameters
            chunk = ids[i : i + 500]
            rows = self._read(
                "SELECT event_id, client_order_id, event, ts, filled_qty, filled_avg_price, broker_order_id, details"
                f" FROM order_events WHERE client_order_id IN ({','.join('?' * len(chunk))}) ORDER BY seq",
                chunk,
            )
            for eid, coid, ev, ts, qty, avg, broker, details in rows:
                events.setdefault(coid, []).append(
                    OrderEvent(eid, coid, ev, _dt(ts), qty, _dec(avg), broker, json.loads(details))
                )
        return events

    def fills_on(self, day: date) -> list[Fill]:
        return self.fills_between(*day_bounds(day))

    def fills_between(self, start: datetime, end: datetime) -> list[Fill]:
        rows = self._read(
            "SELECT symbol, ts, side, qty, price, commission, client_order_id, execution_id FROM fills"
            " WHERE ts >= ? AND ts < ? ORDER BY ts, execution_id",
            (_us(start), _us(end)),
        )
        return [
            Fill(symbol, _dt(ts), Side(side), qty, Decimal(price), Decimal(commission), coid, eid)
            for symbol, ts, side, qty, price, commission, coid, eid in rows
        ]

    def fills_for(self, strategy: str, symbol: str) -> list[Fill]:
        rows = self._read(
            "SELECT f.symbol, f.ts, f.side, f.qty, f.price, f.commission, f.client_order_id, f.execution_id"
            " FROM fills f JOIN orders o ON o.client_order_id = f.client_order_id"
            " WHERE o.strategy = ? AND f.symbol = ? ORDER BY f.ts, f.execution_id",
            (strategy, symbol),
        )
        return [
            Fill(sym, _dt(ts), Side(side), qty, Decimal(price), Decimal(commission), coid, eid)
            for sym, ts, side, qty, price, commission, coid, eid in rows
        ]

    def signals_between(self, start: datetime, end: datetime) -> list[Signal]:
        rows = self._read(
            "SELECT strategy, symbol, bar_time, direction, price FROM signals WHERE bar_time >= ? AND bar_time < ?"
            " ORDER BY bar_time, strategy, symbol",
            (_us(start), _us(end)),
        )
        return [Signal(st, sym, _dt(ts), Direction(d), p) for st, sym, ts, d, p in rows]

    def risk_events_on(self, day: date) -> list[RiskEvent]:
        start, end = day_bounds(day)
        rows = self._read(
            "SELECT ts, account, kind, reason, strategy, symbol, details FROM risk_events WHERE ts >= ? AND ts < ?"
            " ORDER BY ts, id",
            (_us(start), _us(end)),
        )
        return [RiskEvent(_dt(ts), a, k, r, st, sym, json.loads(d)) for ts, a, k, r, st, sym, d in rows]

    def equity_curve(self, account: str, start: datetime, end: datetime) -> list[EquitySnapshot]:
        rows = self._read(
            "SELECT account, ts, equity, cash FROM equity_snapshots WHERE account = ? AND ts >= ? AND ts < ?"
            " ORDER BY ts",
            (account, _us(start), _us(end)),
        )
        return [EquitySnapshot(a, _dt(ts), Decimal(eq), Decimal(cash)) for a, ts, eq, cash in rows]

    # --- quarantine -----------------------------------------------------------------------------

    def quarantine(self, kind: str, reason: str, record: str) -> None:
        self._insert(
            "INSERT INTO quarantine (kind, reason, record, recorded_at) VALUES (?, ?, ?, ?)",
            (kind, reason, record, _us(datetime.now(UTC))),
        )

    def quarantined(self, limit: int = 100) -> list[QuarantinedRecord]:
        rows = self._read("SELECT kind, reason, record, recorded_at FROM quarantine ORDER BY id DESC LIMIT ?", (limit,))
        return [QuarantinedRecord(k, r, rec, _dt(at)) for k, r, rec, at in rows]
