"""The simulated broker's account as a durable document: a paper account survives a restart.

A real broker keeps its orders, positions and cash whatever happens to our process; the simulated
one must too, or reconciliation after a crash would adopt an empty account while the ledger still
holds the fills. ``SimulatedBroker`` saves this document through an ``AccountJournal`` after every
change (submit, cancel, fill, delivery) and loads it when it starts.

The journal of a paper run lives where the run's state lives (``StoreJournal``: Redis, or the
in-process store). The document is versioned JSON, exact (Decimals as text, UTC ISO times).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from quantterminal.core.accounting.order_terms import read_terms, terms_document
from quantterminal.core.accounting.orders import Order, OrderType, OrderUpdate
from quantterminal.core.accounting.portfolio import Portfolio, Position
from quantterminal.core.models import Side
from quantterminal.core.settings import BrokerSettings, default_of
from quantterminal.core.simulation.fill_model import FillModel
from quantterminal.core.trading.feed_codec import decode_order_update, encode_order_update

ACCOUNT_SCHEMA = 1


_CASH: Decimal = default_of(BrokerSettings, "cash")


@dataclass(frozen=True)
class SimulatorConfig:
    """How the simulated broker behaves."""

    initial_cash: Decimal = _CASH
    latency: timedelta = timedelta(milliseconds=50)
    fills: FillModel = field(default_factory=FillModel)
    chaos: bool = False
    duplicate_rate: float = 0.3
    max_delay: timedelta = timedelta(seconds=90)
    seed: int = 0
    refuse_wash_trades: bool = True  # as Alpaca: no order against the account's own opposite working order


class AccountJournal(Protocol):
    """Where a simulated account is kept between runs."""

    def load(self) -> str | None:
        """The saved document, or ``None`` for a new account."""
        ...

    def save(self, document: str) -> None:
        """Replace the saved document."""
        ...


class DocumentStore(Protocol):
    """The part of a state store that keeps named documents (see ``VersionedStateStore``)."""

    def load_document(self, name: str) -> str | None: ...

    def save_document(self, name: str, text: str) -> None: ...


class StoreJournal:
    """A simulated account kept in a state store under ``simbroker-<account>``."""

    def __init__(self, store: DocumentStore, account: str) -> None:
        self.store = store
        self.name = f"simbroker-{account}"

    def load(self) -> str | None:
        return self.store.load_document(self.name)

    def save(self, document: str) -> None:
        self.store.save_document(self.name, document)


@dataclass
class WorkingOrder:
    """The simulated venue's slot for an order it holds: the order as the venue knows it, and the
    venue's own counters for working it (not a shape of the order: the venue's bookkeeping)."""

    order: Order
    workable_at: datetime
    executions: int = 0
    notional: Decimal = Decimal(0)
    triggered: bool = False  # a stop-limit whose stop was reached: a limit order from then on
    best: Decimal | None = None  # a trailing stop's best price since it began working
    expires_at: datetime | None = None  # a day order's end: the close of the session it first works in
    held: bool = False  # an exit leg waiting for its entry to fill


@dataclass
class AccountSnapshot:
    """Everything the simulated broker must remember across a restart."""

    now: datetime
    portfolio: Portfolio
    last: dict[str, Decimal]
    orders: dict[str, WorkingOrder]
    queued: list[tuple[datetime, int, OrderUpdate]]  # updates not yet delivered (due, seq, update)
    outbox: list[OrderUpdate]  # delivered, not yet confirmed booked: delivered again after a restart
    seq: int


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _read_dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _ts(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _read_ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


# One order is stored as two rows, as the venue reports it and as it was asked for (the layout of
# schema 1, from when these were two records); its status is read back through ``reported_as``.
def _order(o: Order) -> list[Any]:
    return [
        o.client_order_id,
        o.broker_order_id,
        o.symbol,
        o.side.value,
        o.qty,
        o.order_type.value,
        o.status.value,
        o.filled_qty,
        _dec(o.filled_avg_price),
        _dec(o.limit_price),
        _ts(o.created_at),
    ]


def _request(r: Order) -> list[Any]:
    return [
        r.client_order_id,
        r.strategy,
        r.symbol,
        r.side.value,
        r.qty,
        r.order_type.value,
        _ts(r.decision_time),
        _dec(r.decision_price),
        _dec(r.limit_price),
    ]


def _read_order(reported: list[Any], asked: list[Any]) -> Order:
    coid, bid, symbol, side, qty, otype, status, filled, avg, limit, at = reported
    _, strategy, _, _, _, _, decided_at, decided_price, _ = asked
    order = Order(
        coid,
        strategy,
        symbol,
        Side(side),
        qty,
        OrderType(otype),
        _read_ts(decided_at),
        _read_dec(decided_price),
        _read_dec(limit),
        filled_qty=filled,
        filled_avg_price=_read_dec(avg),
        broker_order_id=bid,
        created_at=_read_ts(at),
    )
    return order.reported_as(status)


def encode_account(snapshot: AccountSnapshot) -> str:
    """The account as its stored document."""
    portfolio = snapshot.portfolio
    doc = {
        "schema": ACCOUNT_SCHEMA,
        "kind": "simulated_account",
        "now": snapshot.now.isoformat(),
        "cash": str(portfolio.cash),
        "commissions": str(portfolio.commissions),
        "positions": {
            symbol: {"lots": [[q, str(p)] for q, p in position.lots()], "realized": str(position.realized_pnl)}
            for symbol, position in portfolio.positions.items()
        },
        "last": {symbol: str(price) for symbol, price in snapshot.last.items()},
        "orders": [
            {
                "order": _order(w.order),
                "request": _request(w.order),
                "events": sorted(w.order.events),
                "updated_at": _ts(w.order.updated_at),
                "workable_at": w.workable_at.isoformat(),
                "executions": w.executions,
                "notional": str(w.notional),
                "terms": terms_document(w.order),
                "venue": {
                    "triggered": w.triggered,
                    "best": _dec(w.best),
                    "expires_at": _ts(w.expires_at),
                    "held": w.held,
                },
            }
            for w in snapshot.orders.values()
        ],
        "queued": [[due.isoformat(), seq, encode_order_update(u).decode()] for due, seq, u in snapshot.queued],
        "outbox": [encode_order_update(u).decode() for u in snapshot.outbox],
        "seq": snapshot.seq,
    }
    return json.dumps(doc, separators=(",", ":"))


def decode_account(text: str) -> AccountSnapshot:
    """The account stored in ``text``; ``ValueError`` if it is not one this build can read."""
    try:
        doc = json.loads(text)
        if doc.get("kind") != "simulated_account" or doc.get("schema") != ACCOUNT_SCHEMA:
            raise ValueError(f"not a simulated account of schema {ACCOUNT_SCHEMA}")
        portfolio = Portfolio(Decimal(doc["cash"]))
        portfolio.commissions = Decimal(doc["commissions"])
        for symbol, held in doc["positions"].items():
            lots = [(int(q), Decimal(p)) for q, p in held["lots"]]
            portfolio.positions[symbol] = Position.from_lots(symbol, lots, Decimal(held["realized"]))
        orders = {}
        for row in doc["orders"]:
            order = _read_order(row["order"], row["request"])
            if "events" in row:  # written by a build that keeps them (the status is their summary)
                order = replace(order, events=frozenset(row["events"]), updated_at=_read_ts(row["updated_at"]))
            order = replace(order, **read_terms(row.get("terms", {})))
            venue = row.get("venue", {})  # absent in accounts saved before stops and legs
            orders[order.client_order_id] = WorkingOrder(
                order,
                datetime.fromisoformat(row["workable_at"]),
                int(row["executions"]),
                Decimal(row["notional"]),
                bool(venue.get("triggered", False)),
                _read_dec(venue.get("best")),
                _read_ts(venue.get("expires_at")),
                bool(venue.get("held", False)),
            )
        return AccountSnapshot(
            now=datetime.fromisoformat(doc["now"]),
            portfolio=portfolio,
            last={symbol: Decimal(price) for symbol, price in doc["last"].items()},
            orders=orders,
            queued=[(datetime.fromisoformat(d), int(s), decode_order_update(u)) for d, s, u in doc["queued"]],
            outbox=[decode_order_update(u) for u in doc["outbox"]],
            seq=int(doc["seq"]),
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise ValueError(f"stored simulated account is unreadable: {exc}") from None
