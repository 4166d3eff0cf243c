"""The backtest's object state store keeps the StateStore contract the kernel relies on: the same
answers as the in-process document store (the Redis twin) for the same operations, versions
counted the same way, bad values refused with nothing written."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantterminal.adapters.state.memory_state import MemoryStateStore
from quantterminal.adapters.state.object_state import ObjectStateStore, SharedObjectStateStore
from quantterminal.core.accounting.orders import Order, OrderType
from quantterminal.core.accounting.state import PositionState, StateError
from quantterminal.core.models import Side

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def order(coid: str, symbol: str = "SPY") -> Order:
    return Order(
        coid,
        "momentum",
        symbol,
        Side.BUY,
        10,
        OrderType.LIMIT,
        limit_price=Decimal("100.25"),
        account="paper",
        created_at=NOW,
    )


def observe(store: ObjectStateStore | MemoryStateStore) -> tuple[object, ...]:  # the shared one is an ObjectStateStore
    strip = lambda records: [replace(r, version=0) for r in records]  # noqa: E731 - versions compared apart
    return (
        strip(store.positions("paper")),
        [p.version for p in store.positions("paper")],
        strip(store.positions_in("paper", "SPY")),
        strip(store.open_orders("paper")),
        [o.version for o in store.open_orders("paper")],
        store.get_risk_state("paper").reservations,
        store.get_risk_state("paper").version,
        store.load_snapshots(["momentum", "breakout"], "SPY"),
        bar_state(store),
    )


def bar_state(store: ObjectStateStore | MemoryStateStore) -> tuple[object, ...]:
    read = store.bar_state("paper", ["momentum", "breakout"], "SPY")
    positions = {name: (p.qty, p.version) for name, p in read.positions.items()}
    return read.snapshots, positions, [(o.client_order_id, o.version) for o in read.open_orders]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["fill", "add", "update", "remove", "halt", "snap"]), st.integers(1, 40)),
        max_size=25,
    )
)
def test_the_object_store_answers_as_the_document_store_does(ops: list[tuple[str, int]]) -> None:
    stores = (ObjectStateStore(), MemoryStateStore(), SharedObjectStateStore())
    for op, n in ops:
        results = []
        for store in stores:
            symbol = "SPY" if n % 2 else "QQQ"
            if op == "fill":
                side = Side.BUY if n % 3 else Side.SELL
                results.append(
                    store.update_position(
                        "paper", "momentum", symbol, lambda p, s=side, q=n: p.apply_fill(s, q, Decimal("100.5"), NOW)
                    ).qty
                )
            elif op == "add":
                results.append(store.add_open_order(order(f"o{n % 5}", symbol)))
            elif op == "update" and store.get_open_order(f"o{n % 5}") is not None:
                results.append(
                    store.update_open_order(f"o{n % 5}", lambda o: replace(o, events=frozenset({"accepted"}))).status
                )
            elif op == "remove":
                results.append(store.remove_open_order(f"o{n % 5}"))
            elif op == "halt":
                results.append(
                    store.update_risk_state(
                        "paper", lambda r: replace(r, halted=not r.halted, halt_reason="" if r.halted else "test")
                    ).halted
                )
            elif op == "snap":
                store.save_snapshots("SPY", {"momentum": {"n": n}})
        assert len(set(map(repr, results))) <= 1, (op, results)
        assert observe(stores[0]) == observe(stores[1]) == observe(stores[2])


def test_bad_values_are_refused_and_nothing_is_written() -> None:
    store = ObjectStateStore()
    with pytest.raises(StateError):
        store.update_position("paper", "momentum", "SPY", lambda p: replace(p, lots=((10, Decimal(-1)),)))
    assert store.get_position("paper", "momentum", "SPY") == PositionState("paper", "momentum", "SPY")
    with pytest.raises(StateError):
        store.add_open_order(replace(order("x"), qty=0))
    assert store.open_orders("paper") == []
    assert store.add_open_order(order("x"))
    store.remove_open_order("x")
    assert not store.add_open_order(order("x")), "a client order id is never recorded twice"
    with pytest.raises(KeyError):
        store.update_open_order("x", lambda o: o)


def test_the_shared_object_store_makes_each_update_one_step_across_threads() -> None:
    """A paper run's trader, API and reconciler write from their own threads: an update's read,
    change and write are one step (a change that lets other threads in midway loses nothing),
    and a halt set from one thread is never lost under a risk check from another."""
    store = SharedObjectStateStore()
    writers, times = 4, 50

    def add_one(p: PositionState) -> PositionState:
        time.sleep(0)  # let the other writers in between the read and the write
        return p.apply_fill(Side.BUY, 1, Decimal("100"), NOW)

    def write() -> None:
        for _ in range(times):
            store.update_position("paper", "momentum", "SPY", add_one)

    def halt_and_resume() -> None:
        for i in range(times):
            store.update_risk_state(
                "paper", lambda r, i=i: replace(r, halted=i % 2 == 0, halt_reason="kill switch" if i % 2 == 0 else "")
            )

    threads = [threading.Thread(target=write) for _ in range(writers)] + [threading.Thread(target=halt_and_resume)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    position = store.get_position("paper", "momentum", "SPY")
    assert (position.qty, position.version) == (writers * times, writers * times)
    risk = store.get_risk_state("paper")
    assert (risk.halted, risk.version) == (False, times)
    with pytest.raises(StateError):  # still checked, as every shared store is
        store.update_position("paper", "momentum", "SPY", lambda p: replace(p, lots=((10, Decimal(-1)),)))
    assert store.get_position("paper", "momentum", "SPY") == position
