"""The ledger's SQL, written once for SQLite and PostgreSQL: the writes of the audit trail (orders,
their events, fills, signals, risk events, equity), the quarantine and the market data queries
(what the audit trail is read back as: ``sql_audit``).

Each ledger supplies a ``Dialect`` (how times, money and JSON are stored, the driver's placeholder)
and two primitives: ``_write`` runs a function in one transaction, ``_read`` runs one query. What
differs for real -- bulk ingest (COPY on PostgreSQL), partitions, migrations, connections and
retries -- stays in ``sqlite_ledger`` and ``postgres_ledger``. Statements are written with ``?``
placeholders; a dialect rewrites them for its driver.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from quantterminal.adapters.ledger import ledger_base as checks
from quantterminal.adapters.ledger.sql_dialect import BAR_COLUMNS, TICK_COLUMNS, Dialect, Transaction
from quantterminal.core.accounting.orders import Order, OrderUpdate
from quantterminal.core.accounting.records import EquitySnapshot, RiskEvent
from quantterminal.core.market_data.calendar import trading_minutes
from quantterminal.core.models import Bar, Fill, Signal, Trade

T = TypeVar("T")


class SqlLedgerCore:
    """The statements both ledgers share. Subclasses set ``dialect`` and implement the primitives."""

    dialect: Dialect

    def _write(self, work: Callable[[Any], T], what: str) -> T:
        """``work`` in one transaction, committed durably."""
        raise NotImplementedError

    def _write_statements(self, work: Callable[[Any], T], what: str) -> T:
        """``work``, whose every statement may commit on its own (a single write, or a write and
        reads that check it): PostgreSQL runs each as its own transaction, in one round trip
        instead of three. Here, one transaction."""
        return self._write(work, what)

    def _read(self, sql: str, params: Sequence[Any], what: str) -> list[Any]:
        raise NotImplementedError

    # --- helpers ----------------------------------------------------------------------------

    def _insert_once(
        self,
        what: str,
        insert: str,
        params: Sequence[Any],
        select: str,
        key: Sequence[Any],
        check: Callable[[Any], None],
        durable: bool = True,
    ) -> bool:
        """Insert unless the key is stored; a stored row must then equal the new one (``check``
        raises ``LedgerIntegrityError`` otherwise). ``True`` if inserted. ``durable``: as for
        ``_execute``."""
        sql = self.dialect.sql
        insert = insert if durable else self.dialect.relaxed + insert

        def work(cur: Transaction) -> bool:
            cur.execute(sql(insert), params)
            if cur.rowcount:
                return True
            cur.execute(sql(select), key)
            check(cur.fetchone())
            return False

        return self._write_statements(work, what)

    def _execute(self, what: str, statement: str, params: Sequence[Any], durable: bool = True) -> None:
        """One write statement; ``durable=False``: an analytics row (an equity snapshot, a signal)
        whose commit need not wait for the disk -- a crash may lose the last moment of them, never
        an order, fill or event (those are always durable)."""
        sql = self.dialect.sql(statement)
        if durable:
            self._write_statements(lambda cur: cur.execute(sql, params), what)
        else:
            self._write_relaxed(sql, params, what)

    def _write_relaxed(self, sql: str, params: Sequence[Any], what: str) -> None:
        """One analytics row (see ``_execute``), committed as the database allows: PostgreSQL's
        commit does not wait for the disk; SQLite's ledger may hold it a moment to write it
        with others."""
        self._write_statements(lambda cur: cur.execute(self.dialect.relaxed + sql, params), what)

    def _select(self, what: str, statement: str, params: Sequence[Any]) -> list[Any]:
        return self._read(self.dialect.sql(statement), params, what)

    def _bar(self, row: Sequence[Any]) -> Bar:
        symbol, ts, o, h, lo, c, volume, vwap, count = row
        return Bar(symbol, self.dialect.read_time(ts), o, h, lo, c, int(volume), vwap, count)

    # --- market data queries ----------------------------------------------------------------

    def bar_revision(self, symbol: str, start: datetime) -> int | None:
        rows = self._select(
            "bar revision", "SELECT revision FROM bars WHERE symbol = ? AND ts = ?", (symbol, self.dialect.time(start))
        )
        return None if not rows else int(rows[0][0])

    def last_bars(self, symbol: str, n: int) -> list[Bar]:
        rows = self._select(
            "last bars", f"SELECT {BAR_COLUMNS} FROM bars WHERE symbol = ? ORDER BY ts DESC LIMIT ?", (symbol, n)
        )
        return [self._bar(r) for r in reversed(rows)]

    def bars_between(
        self, start: datetime, end: datetime, symbols: Sequence[str] | None = None
    ) -> dict[str, list[Bar]]:
        t = self.dialect.time
        result: dict[str, list[Bar]] = {}
        if symbols is None:
            rows = self._select(
                "bars between",
                f"SELECT {BAR_COLUMNS} FROM bars WHERE ts >= ? AND ts < ? ORDER BY symbol, ts",
                (t(start), t(end)),
            )
            for row in rows:
                result.setdefault(row[0], []).append(self._bar(row))
            return result
        for symbol in sorted(set(symbols)):  # one symbol a query: each an index range scan
            rows = self._select(
                "bars between",
                f"SELECT {BAR_COLUMNS} FROM bars WHERE symbol = ? AND ts >= ? AND ts < ? ORDER BY ts",
                (symbol, t(start), t(end)),
            )
            if rows:
                result[symbol] = [self._bar(r) for r in rows]
        return result

    def last_ticks(self, symbol: str, n: int) -> list[Trade]:
        rows = self._select(
            "last ticks",
            f"SELECT {TICK_COLUMNS} FROM ticks WHERE symbol = ? ORDER BY ts DESC, trade_id DESC LIMIT ?",
            (symbol, n),
        )
        read_time = self.dialect.read_time
        return [
            Trade(s, read_time(ts), price, int(size), trade_id, venue or None, tuple(c for c in cond.split(",") if c))
            for s, ts, venue, trade_id, price, size, cond in reversed(rows)
        ]

    def missing_minutes(self, symbol: str, start: datetime, end: datetime) -> list[datetime]:
        expected = list(trading_minutes(start, end))
        if not expected:
            return []
        t, read_time = self.dialect.time, self.dialect.read_time
        rows = self._select(
            "missing minutes", "SELECT ts FROM bars WHERE symbol = ? AND ts >= ? AND ts < ?", (symbol, t(start), t(end))
        )
        present = {read_time(r[0]) for r in rows}
        return [m for m in expected if m not in present]

    # --- the audit trail: writes --------------------------------------------------------------

    def record_order(self, order: Order) -> bool:
        decided_at, decided_price = checks.check_order(order)
        d = self.dialect
        return self._insert_once(
            "record order",
            "INSERT INTO orders (client_order_id, strategy, symbol, side, qty, order_type, limit_price,"
            " decision_time, decision_price, terms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (client_order_id) DO NOTHING",
            (
                order.client_order_id,
                order.strategy,
                order.symbol,
                order.side.value,
                order.qty,
                order.order_type.value,
                d.money(order.limit_price),
                d.time(decided_at),
                d.money(decided_price),
                checks.terms_text(order),
            ),
            "SELECT strategy, symbol, side, qty, order_type, limit_price, decision_time, decision_price, terms"
            " FROM orders WHERE client_order_id = ?",
            (order.client_order_id,),
            lambda row: checks.ensure_same(
                "order",
                order.client_order_id,
                checks.ORDER_FIELDS,
                (
                    *row[:3],
                    int(row[3]),
                    row[4],
                    d.read_money(row[5]),
                    d.read_time(row[6]),
                    d.read_money(row[7]),
                    row[8],
                ),
                checks.order_identity(order),
            ),
        )

    def append_order_event(self, event: OrderUpdate) -> bool:
        checks.check_order_event(event)
        d = self.dialect
        event_id = checks.order_event_id(event)
        return self._insert_once(
            "append order event",
            "INSERT INTO order_events (event_id, client_order_id, event, ts, filled_qty, filled_avg_price,"
            " broker_order_id, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING",
            (
                event_id,
                event.client_order_id,
                event.event,
                d.time(event.timestamp),
                event.cum_filled_qty,
                d.money(event.filled_avg_price),
                event.broker_order_id,
                "{}",
            ),
            "SELECT client_order_id, event, ts, filled_qty, broker_order_id FROM order_events WHERE event_id = ?",
            (event_id,),
            lambda row: checks.ensure_same(
                "order event",
                event_id,
                checks.ORDER_EVENT_FIELDS,
                (row[0], row[1], d.read_time(row[2]), int(row[3]), row[4]),
                checks.order_event_identity(event),
            ),
        )

    def append_fill(self, fill: Fill) -> bool:
        checks.check_fill(fill)
        d = self.dialect
        return self._insert_once(
            "append fill",
            "INSERT INTO fills (execution_id, client_order_id, symbol, side, qty, price, commission, ts)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (execution_id) DO NOTHING",
            (
                fill.execution_id,
                fill.order_id,
                fill.symbol,
                fill.side.value,
                fill.qty,
                d.money(fill.price),
                d.money(fill.commission),
                d.time(fill.timestamp),
            ),
            "SELECT client_order_id, symbol, side, qty, price, commission, ts FROM fills WHERE execution_id = ?",
            (fill.execution_id,),
            lambda row: checks.ensure_same(
                "fill",
                fill.execution_id,
                checks.FILL_FIELDS,
                (*row[:3], int(row[3]), d.read_money(row[4]), d.read_money(row[5]), d.read_time(row[6])),
                checks.fill_identity(fill),
            ),
        )

    def record_signal(self, signal: Signal) -> bool:
        checks.check_signal(signal)
        key = (signal.strategy, signal.symbol, self.dialect.time(signal.bar_time))
        return self._insert_once(
            "record signal",
            "INSERT INTO signals (strategy, symbol, bar_time, direction, price) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (*key, signal.direction.value, signal.price),
            "SELECT direction, price FROM signals WHERE strategy = ? AND symbol = ? AND bar_time = ?",
            key,
            lambda row: checks.ensure_same(
                "signal",
                f"{signal.strategy} {signal.symbol} {signal.bar_time.isoformat()}",
                checks.SIGNAL_FIELDS,
                tuple(row),
                checks.signal_identity(signal),
            ),
            # analysis, not the order trail: an order placed on it commits durably right after,
            # which flushes this one too (PostgreSQL keeps commit order)
            durable=False,
        )

    def record_risk_event(self, event: RiskEvent) -> None:
        checks.check_risk_event(event)
        self._execute(
            "record risk event",
            "INSERT INTO risk_events (ts, account, kind, reason, strategy, symbol, details, event_key)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_key) DO NOTHING",
            (
                self.dialect.time(event.timestamp),
                event.account,
                event.kind,
                event.reason,
                event.strategy,
                event.symbol,
                json.dumps(event.details, default=str),
                checks.risk_event_key(event),
            ),
        )

    def record_equity(self, snapshot: EquitySnapshot) -> None:
        checks.check_equity(snapshot)
        d = self.dialect
        self._execute(
            "record equity",
            "INSERT INTO equity_snapshots (account, ts, equity, cash) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (account, ts) DO UPDATE SET equity = excluded.equity, cash = excluded.cash",
            (snapshot.account, d.time(snapshot.timestamp), d.money(snapshot.equity), d.money(snapshot.cash)),
            durable=False,  # one a minute from every bar handler: the disk flush was most of a bar's time
        )

    def quarantine(self, kind: str, reason: str, record: str) -> None:
        self._execute(
            "quarantine",
            "INSERT INTO quarantine (kind, reason, record, recorded_at) VALUES (?, ?, ?, ?)",
            (kind, reason, record, self.dialect.time(datetime.now(UTC))),
        )

    # --- the audit trail: reads ---------------------------------------------------------------
