"""The audit trail read back, written once for SQLite and PostgreSQL: orders by day, their events
(executions read back from the fills), fills, signals, risk events, the equity curve and the
quarantine -- what reports, the API and the divergence report read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from quantterminal.adapters.ledger import ledger_base as checks
from quantterminal.adapters.ledger.sql_core import SqlLedgerCore
from quantterminal.adapters.ledger.sql_dialect import IN_CHUNK
from quantterminal.core.accounting.orders import Order, OrderType, OrderUpdate
from quantterminal.core.accounting.records import EquitySnapshot, QuarantinedRecord, RiskEvent
from quantterminal.core.market_data.sessions import day_bounds
from quantterminal.core.models import Direction, Execution, Fill, Side, Signal


class SqlAuditLedger(SqlLedgerCore):
    """Both ledgers' reads of the audit trail, on top of their shared writes."""

    def orders_on(self, day: date) -> list[Order]:
        return self.orders_between(*day_bounds(day))

    def orders_between(self, start: datetime, end: datetime) -> list[Order]:
        d = self.dialect
        rows = self._select(
            "orders between",
            "SELECT client_order_id, strategy, symbol, side, qty, order_type, decision_time, decision_price,"
            " limit_price, terms FROM orders WHERE decision_time >= ? AND decision_time < ?"
            " ORDER BY decision_time, client_order_id",
            (d.time(start), d.time(end)),
        )
        return [
            Order(
                coid,
                strategy,
                symbol,
                Side(side),
                int(qty),
                OrderType(otype),
                d.read_time(ts),
                Decimal(price),
                d.read_money(limit),
                **checks.read_terms_text(terms),
            )
            for coid, strategy, symbol, side, qty, otype, ts, price, limit, terms in rows
        ]

    def order_events(self, client_order_id: str) -> list[OrderUpdate]:
        return self.events_of_orders([client_order_id]).get(client_order_id, [])

    def events_of_orders(self, client_order_ids: Sequence[str]) -> dict[str, list[OrderUpdate]]:
        """The order updates recorded for these orders, in arrival order. A fill's execution is
        read back from the fills table (its cumulative quantity is the update's); an execution
        whose fill row is missing comes back as ``None``, which the audit looks for."""
        d = self.dialect
        events: dict[str, list[OrderUpdate]] = {}
        ids = list(dict.fromkeys(client_order_ids))
        for i in range(0, len(ids), IN_CHUNK):
            chunk = ids[i : i + IN_CHUNK]
            marks = ", ".join("?" * len(chunk))
            rows = self._select(
                "order events",
                "SELECT event_id, client_order_id, event, ts, filled_qty, filled_avg_price, broker_order_id"
                f" FROM order_events WHERE client_order_id IN ({marks}) ORDER BY seq",
                chunk,
            )
            fills = {
                f.execution_id: f
                for f in self._fills(
                    self._select(
                        "fills of orders",
                        "SELECT symbol, ts, side, qty, price, commission, client_order_id, execution_id FROM fills"
                        f" WHERE client_order_id IN ({marks})",
                        chunk,
                    )
                )
            }
            for event_id, coid, ev, ts, qty, avg, broker in rows:
                fill = fills.get(checks.execution_id_of(str(event_id)))
                execution = (
                    None
                    if fill is None
                    else Execution(fill.execution_id, fill.qty, fill.price, fill.timestamp, int(qty))
                )
                update = OrderUpdate(coid, ev, d.read_time(ts), int(qty), execution, broker, d.read_money(avg))
                events.setdefault(coid, []).append(update)
        return events

    def fills_on(self, day: date) -> list[Fill]:
        return self.fills_between(*day_bounds(day))

    def fills_between(self, start: datetime, end: datetime) -> list[Fill]:
        rows = self._select(
            "fills between",
            "SELECT symbol, ts, side, qty, price, commission, client_order_id, execution_id FROM fills"
            " WHERE ts >= ? AND ts < ? ORDER BY ts, execution_id",
            (self.dialect.time(start), self.dialect.time(end)),
        )
        return self._fills(rows)

    def fills_for(self, strategy: str, symbol: str) -> list[Fill]:
        rows = self._select(
            "fills for",
            "SELECT f.symbol, f.ts, f.side, f.qty, f.price, f.commission, f.client_order_id, f.execution_id"
            " FROM fills f JOIN orders o ON o.client_order_id = f.client_order_id"
            " WHERE o.strategy = ? AND f.symbol = ? ORDER BY f.ts, f.execution_id",
            (strategy, symbol),
        )
        return self._fills(rows)

    def _fills(self, rows: list[Any]) -> list[Fill]:
        d = self.dialect
        return [
            Fill(sym, d.read_time(ts), Side(side), int(qty), Decimal(price), Decimal(commission), coid, eid)
            for sym, ts, side, qty, price, commission, coid, eid in rows
        ]

    def signals_between(self, start: datetime, end: datetime) -> list[Signal]:
        d = self.dialect
        rows = self._select(
            "signals between",
            "SELECT strategy, symbol, bar_time, direction, price FROM signals WHERE bar_time >= ? AND bar_time < ?"
            " ORDER BY bar_time, strategy, symbol",
            (d.time(start), d.time(end)),
        )
        return [Signal(st, sym, d.read_time(ts), Direction(dr), p) for st, sym, ts, dr, p in rows]

    def risk_events_on(self, day: date) -> list[RiskEvent]:
        d = self.dialect
        start, end = day_bounds(day)
        rows = self._select(
            "risk events on",
            "SELECT ts, account, kind, reason, strategy, symbol, details FROM risk_events WHERE ts >= ? AND ts < ?"
            " ORDER BY ts, id",
            (d.time(start), d.time(end)),
        )
        return [RiskEvent(d.read_time(ts), a, k, r, st, sym, d.read_json(x)) for ts, a, k, r, st, sym, x in rows]

    def equity_curve(self, account: str, start: datetime, end: datetime) -> list[EquitySnapshot]:
        d = self.dialect
        rows = self._select(
            "equity curve",
            "SELECT account, ts, equity, cash FROM equity_snapshots WHERE account = ? AND ts >= ? AND ts < ?"
            " ORDER BY ts",
            (account, d.time(start), d.time(end)),
        )
        return [EquitySnapshot(a, d.read_time(ts), Decimal(eq), Decimal(cash)) for a, ts, eq, cash in rows]

    def quarantined(self, limit: int = 100) -> list[QuarantinedRecord]:
        rows = self._select(
            "quarantined", "SELECT kind, reason, record, recorded_at FROM quarantine ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [QuarantinedRecord(k, r, rec, self.dialect.read_time(at)) for k, r, rec, at in rows]
