"""The books of a paper run checked against each other: broker, state store and ledger.

After any number of crashes and a final run these must hold (DESIGN.md, "A crash at any point
loses nothing"): no order placed twice, every fill event in the ledger has its fill, the state
store's positions equal the ledger's fills, and the broker's cash and positions equal the ledger's.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from quantterminal.adapters.broker.simulated_account import StoreJournal, decode_account
from quantterminal.core.ports import Ledger, StateStore

EVER = (datetime(1990, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


@dataclass(frozen=True)
class Books:
    """What the three books say, and where they disagree."""

    orders_at_broker: int
    fills_in_ledger: int
    fill_events: int
    problems: list[str]


def check_books(ledger: Ledger, store: StateStore, account: str, initial_cash: Decimal = Decimal(100_000)) -> Books:
    """Compare a paper account's broker (its journal in ``store``), state store and ledger."""
    problems: list[str] = []
    text = StoreJournal(store, account).load()  # type: ignore[arg-type]
    assert text is not None, "no paper account in the state store"
    broker = decode_account(text)
    coids = [w.order.client_order_id for w in broker.orders.values()]
    if len(coids) != len(set(coids)):
        problems.append(f"orders placed twice: {[c for c, n in Counter(coids).items() if n > 1]}")
    orders = {o.client_order_id: o for o in ledger.orders_between(*EVER)}
    fills = ledger.fills_between(*EVER)
    fill_ids = {f.execution_id for f in fills}
    fill_events = [
        e
        for events in ledger.events_of_orders(list(orders)).values()
        for e in events
        if e.event in ("fill", "partial_fill")
    ]
    # the ledger reads an execution back from its fill: None where the fill is missing
    missing = sorted(f"{e.client_order_id}@{e.cum_filled_qty}" for e in fill_events if e.execution is None)
    if missing:
        problems.append(f"{len(missing)} fill events without their fill, e.g. {missing[:3]}")
    executed_at_broker = {
        f"{w.order.broker_order_id}-x{n}" for w in broker.orders.values() for n in range(1, w.executions + 1)
    }
    if executed_at_broker != fill_ids:
        problems.append(
            f"broker executions {len(executed_at_broker)} vs ledger fills {len(fill_ids)}: "
            f"missing {sorted(executed_at_broker - fill_ids)[:3]}, unknown {sorted(fill_ids - executed_at_broker)[:3]}"
        )
    by_book: dict[tuple[str, str], int] = defaultdict(int)
    cash = initial_cash
    for f in fills:
        by_book[(orders[f.order_id].strategy, f.symbol)] += f.side.sign * f.qty
        cash -= f.side.sign * f.qty * f.price + f.commission
    stored = {(p.strategy, p.symbol): p.qty for p in store.positions(account) if p.qty}
    if stored != {k: v for k, v in by_book.items() if v}:
        problems.append(f"state store positions {stored} != ledger fills {dict(by_book)}")
    if broker.portfolio.cash != cash:
        problems.append(f"broker cash {broker.portfolio.cash} != ledger cash {cash}")
    broker_qty = {s: p.qty for s, p in broker.portfolio.positions.items() if p.qty}
    ledger_qty: dict[str, int] = defaultdict(int)
    for (_, symbol), qty in by_book.items():
        ledger_qty[symbol] += qty
    if broker_qty != {s: q for s, q in ledger_qty.items() if q}:
        problems.append(f"broker positions {broker_qty} != ledger positions {dict(ledger_qty)}")
    negative = {k: v for k, v in stored.items() if v < 0}
    if negative:
        problems.append(f"negative positions for long-only strategies: {negative}")
    return Books(len(coids), len(fills), len({e.execution.execution_id for e in fill_events if e.execution}), problems)
