"""Concurrent signals cannot overspend: reservations are made atomically in the real state store."""

from __future__ import annotations

import multiprocessing
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from quantterminal.adapters.ledger.postgres_ledger import PostgresLedger
from quantterminal.adapters.state.memory_state import MemoryStateStore
from quantterminal.adapters.state.redis_state import RedisStateStore
from quantterminal.core.accounting.orders import Order, OrderType
from quantterminal.core.models import Side
from quantterminal.core.ports import StateStore
from quantterminal.core.risk.gate import RiskGate
from quantterminal.core.risk.manager import AccountView, RiskLimits
from tests.services import (
    POSTGRES_URL,
    REDIS_URL,
    check_postgres,
    check_redis,
    delete_redis_keys,
    drop_schema,
    new_schema,
    require,
)

OPEN = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)
LIMITS = RiskLimits(position_limit=Decimal(1))


def _try_order(prefix: str, n: int) -> bool:
    store = RedisStateStore(REDIS_URL, prefix=prefix)
    gate = RiskGate(store, "paper", LIMITS)
    account = AccountView(Decimal(100_000), Decimal(100_000), {}, {f"S{n}": Decimal(100)})
    decision = gate.check(
        Order(f"o{n}", "s", f"S{n}", Side.BUY, 300, OrderType.LIMIT, limit_price=Decimal(100)), account, OPEN
    )
    store.close()
    return decision.accepted


def test_eight_processes_reserving_30_percent_each_get_exactly_three_orders() -> None:
    require("Redis at " + REDIS_URL, check_redis)
    prefix = f"qttest-{uuid.uuid4().hex[:12]}"
    try:
        with multiprocessing.get_context("spawn").Pool(8) as pool:
            accepted = pool.starmap(_try_order, [(prefix, n) for n in range(8)])
        state = RedisStateStore(REDIS_URL, prefix=prefix).get_risk_state("paper")
        assert sum(accepted) == 3
        assert len(state.reservations) == 3
        assert sum((r.notional for r in state.reservations), Decimal(0)) <= Decimal(100_000)
    finally:
        delete_redis_keys(f"{prefix}:*")


# --- the account view is read in the same atomic step as the reservation -----------------------
#
# Order A (60 shares, 6,000 of a 10,000 limit) has passed risk and filled at the broker; the
# order-events handler books it: the position first, then A's reservation is released. Meanwhile
# the bar handler checks order B (60 more shares). Whatever the interleaving, A's shares are in
# the position or in its reservation when B is evaluated, so B must be refused.

LIMIT_10 = RiskLimits(position_limit=Decimal("0.10"))
PRICE = Decimal(100)


def _entry(coid: str, strategy: str, qty: int) -> Order:
    return Order(coid, strategy, "SPY", Side.BUY, qty, OrderType.LIMIT, limit_price=PRICE)


def _view(gate: RiskGate) -> AccountView:
    # what the bar handler reads at the start of the bar (core.desk.account_view)
    return AccountView(Decimal(100_000), Decimal(100_000), {"SPY": gate.position("SPY")}, {"SPY": PRICE})


def _book_a(store: StateStore, gate: RiskGate, step: int) -> None:
    """The order-events handler's two writes for A's fill: 0 = the position, 1 = the release."""
    if step == 0:
        store.update_position("paper", "first", "SPY", lambda p: p.apply_fill(Side.BUY, 60, PRICE, OPEN, "a-x1"))
    else:
        gate.settle("A", 0)


class InterleavingStore(MemoryStateStore):
    """A memory store that runs the booking's steps between the risk check's store operations."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.at: dict[int, int] = {}  # primitive call number -> booking step to run before it
        self.gate: RiskGate | None = None
        self._inside = False

    def _maybe_book(self) -> None:
        if self._inside or self.gate is None:
            return
        step = self.at.pop(self.calls, None)
        self.calls += 1
        if step is not None:
            self._inside = True
            try:
                _book_a(self, self.gate, step)
            finally:
                self._inside = False

    def _read(self, key: str) -> tuple[str | None, int]:
        self._maybe_book()
        return super()._read(key)

    def _cas(self, key: str, doc: str, expected: int, ttl: int | None, index: str | None) -> bool:
        self._maybe_book()
        return super()._cas(key, doc, expected, ttl, index)

    def _members(self, index: str) -> list[tuple[str, str, int]]:
        self._maybe_book()
        return super()._members(index)


@settings(max_examples=300, deadline=None)
@given(position_at=st.integers(0, 7), release_after=st.integers(0, 7), b_qty=st.integers(1, 80))
@example(position_at=1, release_after=0, b_qty=60)  # view read, then both writes, then the check: the race
def test_no_interleaving_of_a_booking_and_a_check_breaches_the_position_limit(
    position_at: int, release_after: int, b_qty: int
) -> None:
    store = InterleavingStore()
    gate = RiskGate(store, "paper", LIMIT_10)
    assert gate.check(_entry("A", "first", 60), _view(gate), OPEN).accepted
    store.gate = gate
    store.at = {position_at: 0, position_at + release_after + 1: 1}
    decision = gate.check(_entry("B", "second", b_qty), _view(gate), OPEN)
    store.gate, remaining = None, sorted(store.at.values())
    for step in remaining:  # the booking finishes if the check ended first
        _book_a(store, gate, step)
    if 60 + b_qty > 100:
        assert not decision.accepted
    elif not decision.accepted:  # refused only in the moment A is counted in both places
        assert decision.rule == "position_limit"
    state = store.get_risk_state("paper")
    exposure = gate.position("SPY") + sum(r.qty for r in state.reservations)
    assert exposure * PRICE <= Decimal(10_000)


def _bar_handler(prefix: str, rounds: int, ready: Any, results: Any) -> None:
    store = RedisStateStore(REDIS_URL, prefix=prefix)
    for i in range(rounds):
        gate = RiskGate(store, f"race{i}", LIMIT_10)
        ready.wait()
        view = AccountView(Decimal(100_000), Decimal(100_000), {"SPY": gate.position("SPY")}, {"SPY": PRICE})
        results.put((i, gate.check(_entry("B", "second", 60), view, OPEN).accepted))
    store.close()


def _order_events(prefix: str, rounds: int, ready: Any) -> None:
    store = RedisStateStore(REDIS_URL, prefix=prefix)
    for i in range(rounds):
        gate = RiskGate(store, f"race{i}", LIMIT_10)
        ready.wait()
        store.update_position(f"race{i}", "first", "SPY", lambda p: p.apply_fill(Side.BUY, 60, PRICE, OPEN, "a-x1"))
        gate.settle("A", 0)
    store.close()


def test_two_processes_on_redis_never_accept_an_entry_past_the_limit_while_a_fill_is_booked() -> None:
    require("Redis at " + REDIS_URL, check_redis)
    prefix = f"qttest-{uuid.uuid4().hex[:12]}"
    rounds = 150
    setup = RedisStateStore(REDIS_URL, prefix=prefix)
    try:
        for i in range(rounds):  # order A has passed risk in every round's account
            gate = RiskGate(setup, f"race{i}", LIMIT_10)
            assert gate.check(_entry("A", "first", 60), _view(gate), OPEN).accepted
        ctx = multiprocessing.get_context("spawn")
        ready, results = ctx.Barrier(2), ctx.Queue()
        processes = [
            ctx.Process(target=_bar_handler, args=(prefix, rounds, ready, results)),
            ctx.Process(target=_order_events, args=(prefix, rounds, ready)),
        ]
        for p in processes:
            p.start()
        accepted = [results.get(timeout=60) for _ in range(rounds)]
        for p in processes:
            p.join(30)
        assert [i for i, ok in accepted if ok] == []
        for i in range(rounds):
            exposure = RiskGate(setup, f"race{i}", LIMIT_10).position("SPY") + sum(
                r.qty for r in setup.get_risk_state(f"race{i}").reservations
            )
            assert exposure == 60
    finally:
        setup.close()
        delete_redis_keys(f"{prefix}:*")


def test_two_deciders_on_one_symbol_a_pending_exit_makes_no_room_until_it_fills() -> None:
    """Decider A holds the whole 10% and sends its exit; decider B wants in. Had the gate counted
    A's exit as done, B's entry would pass, then the broker refuse A's exit as a wash trade against
    B's working entry, and the account hold 16%. The exit makes room only once it fills."""
    require("Redis at " + REDIS_URL, check_redis)
    require("PostgreSQL at 127.0.0.1:5432", check_postgres)
    prefix, schema = f"qttest-{uuid.uuid4().hex[:12]}", new_schema()
    store, ledger = RedisStateStore(REDIS_URL, prefix=prefix), PostgresLedger(POSTGRES_URL, schema=schema)
    ledger.migrate()
    try:
        a, b = RiskGate(store, "paper", LIMIT_10, ledger), RiskGate(store, "paper", LIMIT_10, ledger)
        store.update_position("paper", "first", "SPY", lambda p: p.apply_fill(Side.BUY, 100, PRICE, OPEN, "a-x1"))
        exit_a = Order("A-exit", "first", "SPY", Side.SELL, 100, OrderType.LIMIT, limit_price=PRICE)
        assert a.check(exit_a, _view(a), OPEN).accepted
        refused = b.check(_entry("B", "second", 60), _view(b), OPEN)
        assert (refused.accepted, refused.rule) == (False, "position_limit")
        assert "16000.00 incl. pending orders" in refused.reason
        assert [e.kind for e in ledger.risk_events_on(OPEN.date())] == ["rejection"]
        # The exit fills: its shares leave the position, its reservation is released, B may enter
        store.update_position("paper", "first", "SPY", lambda p: p.apply_fill(Side.SELL, 100, PRICE, OPEN, "a-x2"))
        a.settle("A-exit", 0)
        assert b.check(_entry("B", "second", 60), _view(b), OPEN).accepted
    finally:
        ledger.close()
        store.close()
        delete_redis_keys(f"{prefix}:*")
        drop_schema(schema)
