"""The bar handler and the order-events handler at once, as two Lambdas on their own shards do:
fills and cancels are booked while a bar is being decided. No bar record fails because an order
finished meanwhile (a finished order is skipped, never canceled), and the books end equal to the
broker's. Real Redis and PostgreSQL; each handler with its own connections, as its own process.

The race is made to happen, not hoped for: right after the bar handler reads the open orders
(alone, or with the rest of a bar's state in one go), the order-events side books everything the
broker has reported (the bar's fills), so every step works from a snapshot in which some orders
have already finished -- at the same points on a busy machine as on a quiet one."""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from datetime import timedelta

from lambdas import bar_handler
from quantterminal.adapters.ledger.postgres_ledger import PostgresLedger
from quantterminal.adapters.state.redis_state import RedisStateStore
from quantterminal.core.accounting.orders import Order, OrderUpdate
from quantterminal.core.accounting.ports import BarState
from quantterminal.core.models import Bar
from quantterminal.wiring.runtime import Runtime
from tests.lambdas.harness import Clock, Context, Live, bar_event
from tests.services import POSTGRES_URL, REDIS_URL

DRAIN = "drain"


def test_orders_finishing_during_a_bar_fail_no_record(live: Live, spy_2011_rth: list[Bar]) -> None:
    updates: queue.Queue[OrderUpdate | str | None] = queue.Queue()
    live.broker.on_update(updates.put)
    drained = threading.Event()
    read_open_orders = live.runtime.store.open_orders
    read_bar_state = live.runtime.store.bar_state

    def book_what_was_reported() -> None:
        drained.clear()
        updates.put(DRAIN)  # everything the broker reported before now gets booked, then we go on
        assert drained.wait(60)

    def open_orders_then_book(account: str) -> list[Order]:
        found = read_open_orders(account)
        book_what_was_reported()
        return found

    def bar_state_then_book(account: str, strategies: Sequence[str], symbol: str) -> BarState:
        found = read_bar_state(account, strategies, symbol)
        book_what_was_reported()
        return found

    live.runtime.store.open_orders = open_orders_then_book  # type: ignore[method-assign]
    live.runtime.store.bar_state = bar_state_then_book  # type: ignore[method-assign]
    store = RedisStateStore(REDIS_URL, prefix=live.prefix)
    ledger = PostgresLedger(POSTGRES_URL, schema=live.schema)
    booking = Runtime.build(store, ledger, live.broker, strategies=("momentum",))
    errors: list[BaseException] = []

    def book() -> None:  # the order-events Lambda: books whatever arrives, whenever it arrives
        while (update := updates.get()) is not None:
            if update == DRAIN:
                drained.set()
                continue
            assert isinstance(update, OrderUpdate)
            try:
                booking.desk.on_update(update)
            except BaseException as exc:
                errors.append(exc)

    booker = threading.Thread(target=book, name="order-events")
    booker.start()
    failures = []
    try:
        for i, bar in enumerate(spy_2011_rth[:600]):
            live.broker.on_bar(bar)  # fills and cancels go to the booker at once
            Clock.now = bar.timestamp + timedelta(minutes=1)
            response = bar_handler.handler(bar_event([bar], start=i), Context())
            failures += response["batchItemFailures"]
    finally:
        live.broker.flush()
        updates.put(None)
        booker.join(120)
        live.runtime.store.open_orders = read_open_orders  # type: ignore[method-assign]
    assert errors == []
    assert failures == []
    fills = ledger.fills_between(spy_2011_rth[0].timestamp, Clock.now + timedelta(days=1))
    assert len(fills) > 20, "orders were placed, filled and canceled while bars were decided"
    orders = live.runtime.store.open_orders("paper")
    assert all(not o.status.terminal for o in orders)
    booked = {p.symbol: p.qty for p in live.runtime.store.positions("paper") if p.qty}
    assert booked == {p.symbol: p.qty for p in live.broker.positions()}
    ledger.close()
    store.close()
