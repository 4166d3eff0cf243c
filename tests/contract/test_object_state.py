"""The backtest's object state store keeps the StateStore contract the kernel relies on: the same
answers as the in-process document store (the Redis twin) for the same operations, versions
counted the same way, bad values refused with nothing written."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantterminal.adapters.state.memory_state import MemoryStateStore
from quantterminal.adapters.state.object_state import ObjectStateStore
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


def observe(store: ObjectStateStore | MemoryStateStore) -> tuple[object, ...]:
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
    )


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["fill", "add", "update", "remove", "halt", "snap"]), st.integers(1, 40)),
        max_size=25,
    )
)
def test_the_object_store_answers_as_the_document_store_does(ops: list[tuple[str, int]]) -> None:
    stores = (ObjectStateStore(), MemoryStateStore())
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
        assert observe(stores[0]) == observe(stores[1])


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
