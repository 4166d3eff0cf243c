"""The StateStore contract, run against every adapter: in-memory and Redis (real, on loopback).

The in-memory twin must behave like Redis for everything the system relies on.
"""

from __future__ import annotations

import multiprocessing
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from unittest import mock

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from quantterminal.adapters.state.memory_state import MemoryStateStore
from quantterminal.adapters.state.redis_state import RedisStateStore
from quantterminal.adapters.state.state_base import IDLE_TTL_SECONDS, ConcurrencyError, VersionedStateStore
from quantterminal.core.accounting.orders import Order, OrderStatus, OrderType, OrderUpdate
from quantterminal.core.accounting.state import PositionState, RiskState, SchemaError, StateError
from quantterminal.core.models import Side
from tests.services import REDIS_URL, check_redis, delete_redis_keys, require

D = Decimal
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def make_store(kind: str, prefix: str) -> VersionedStateStore:
    if kind == "redis":
        return RedisStateStore(REDIS_URL, prefix=prefix)
    return MemoryStateStore(prefix=prefix)


def wipe(store: VersionedStateStore) -> None:
    if isinstance(store, RedisStateStore):
        delete_redis_keys(f"{store.prefix}:*")
        store.close()


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[VersionedStateStore]:
    if request.param == "redis":
        require("Redis at " + REDIS_URL, check_redis)
    s = make_store(request.param, f"qttest-{uuid.uuid4().hex[:12]}")
    yield s
    wipe(s)


def buy(qty: int, price: str) -> object:
    return lambda p: p.apply_fill(Side.BUY, qty, D(price), NOW)


def sell(qty: int, price: str) -> object:
    return lambda p: p.apply_fill(Side.SELL, qty, D(price), NOW)


def order(coid: str = "momentum-SPY-1", account: str = "paper") -> Order:
    return Order(
        coid, "momentum", "SPY", Side.BUY, 10, OrderType.LIMIT, limit_price=D("100.25"), account=account, created_at=NOW
    )


# --- positions ------------------------------------------------------------------------------


def test_absent_position_is_flat_version_zero(store: VersionedStateStore) -> None:
    p = store.get_position("paper", "momentum", "SPY")
    assert (p.qty, p.version, p.realized_pnl, p.lots) == (0, 0, 0, ())


def test_position_updates_are_exact_and_versioned(store: VersionedStateStore) -> None:
    p = store.update_position("paper", "momentum", "SPY", buy(10, "100.10"))  # type: ignore[arg-type]
    assert (p.qty, p.version) == (10, 1)
    store.update_position("paper", "momentum", "SPY", buy(5, "100.40"))  # type: ignore[arg-type]
    p = store.update_position("paper", "momentum", "SPY", sell(15, "101.00"))  # type: ignore[arg-type]
    assert (p.qty, p.version, p.realized_pnl) == (0, 3, D("12.00"))
    again = store.get_position("paper", "momentum", "SPY")
    assert again == p
    assert [x.symbol for x in store.positions("paper")] == ["SPY"]
    assert store.positions("other") == []


def test_open_positions_never_expire_and_flat_ones_expire_in_seven_days(store: VersionedStateStore) -> None:
    key, _ = store._position_key("paper", "momentum", "SPY")
    store.update_position("paper", "momentum", "SPY", buy(1, "10"))  # type: ignore[arg-type]
    assert store._ttl(key) is None
    store.update_position("paper", "momentum", "SPY", sell(1, "11"))  # type: ignore[arg-type]
    ttl = store._ttl(key)
    assert ttl is not None
    assert IDLE_TTL_SECONDS - 5 < ttl <= IDLE_TTL_SECONDS
    store.update_position("paper", "momentum", "SPY", sell(1, "12"))  # type: ignore[arg-type]  # now short
    assert store._ttl(key) is None


def test_memory_store_really_expires_flat_positions_and_idle_snapshots() -> None:
    clock = [1_000_000.0]
    s = MemoryStateStore(now=lambda: clock[0])
    s.update_position("paper", "m", "SPY", buy(1, "10"))  # type: ignore[arg-type]
    s.update_position("paper", "m", "QQQ", buy(1, "10"))  # type: ignore[arg-type]
    s.update_position("paper", "m", "QQQ", sell(1, "10"))  # type: ignore[arg-type]
    s.save_snapshot("m", "SPY", {"x": 1})
    clock[0] += IDLE_TTL_SECONDS + 1
    assert [p.symbol for p in s.positions("paper")] == ["SPY"]
    assert s.load_snapshot("m", "SPY") is None
    assert s.get_position("paper", "m", "SPY").qty == 1


def test_a_stale_compare_and_set_loses(store: VersionedStateStore) -> None:
    key, index = store._position_key("paper", "momentum", "SPY")
    fresh = PositionState("paper", "momentum", "SPY")
    assert store._cas(key, fresh.to_json(), 0, None, index)
    assert not store._cas(key, fresh.to_json(), 0, None, index)  # someone else already wrote v1
    assert store._cas(key, fresh.to_json(), 1, None, index)


def test_update_retries_until_it_wins_then_gives_up_boundedly(store: VersionedStateStore) -> None:
    key, index = store._position_key("paper", "momentum", "SPY")
    interference = {"left": 2}

    def change(p: PositionState) -> PositionState:
        if interference["left"]:
            interference["left"] -= 1
            _, version = store._read(key)
            store._cas(key, PositionState("paper", "momentum", "SPY").to_json(), version, None, index)
        return p.apply_fill(Side.BUY, 1, D(1), NOW)

    store._sleep = lambda _: None
    p = store.update_position("paper", "momentum", "SPY", change)
    assert p.qty == 1
    assert p.version == 3  # two interfering writes, then ours

    def always_conflict(p: PositionState) -> PositionState:
        _, version = store._read(key)
        store._cas(key, p.to_json(), version, None, index)
        return p.apply_fill(Side.BUY, 1, D(1), NOW)  # a real change (one that changes nothing is not written)

    store.max_attempts = 5
    with pytest.raises(ConcurrencyError, match="after 5 conflicting attempts"):
        store.update_position("paper", "momentum", "SPY", always_conflict)


def _add_shares(kind: str, prefix: str, times: int) -> None:
    s = make_store(kind, prefix)
    for _ in range(times):
        s.update_position("paper", "momentum", "SPY", buy(1, "100"))  # type: ignore[arg-type]


def test_concurrent_writers_lose_no_update(store: VersionedStateStore) -> None:
    """Several writers adding one share each, many times: the final quantity is the exact sum."""
    writers, times = 4, 60
    if isinstance(store, RedisStateStore):
        ctx = multiprocessing.get_context("spawn")
        procs = [ctx.Process(target=_add_shares, args=("redis", store.prefix, times)) for _ in range(writers)]
    else:
        procs = [
            threading.Thread(
                target=lambda: [
                    store.update_position(  # type: ignore[func-returns-value]
                        "paper", "momentum", "SPY", buy(1, "100")
                    )
                    for _ in range(times)
                ]
            )
            for _ in range(writers)
        ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    final = store.get_position("paper", "momentum", "SPY")
    assert final.qty == writers * times
    assert final.version == writers * times


@settings(max_examples=25)
@given(fills=st.lists(st.tuples(st.booleans(), st.integers(1, 50), st.integers(100, 20000)), min_size=1, max_size=12))
def test_stored_position_equals_the_same_fills_applied_in_memory(fills: list[tuple[bool, int, int]]) -> None:
    s = MemoryStateStore()
    expected = PositionState("paper", "m", "SPY")
    for is_buy, qty, cents in fills:
        side = Side.BUY if is_buy else Side.SELL
        price = D(cents) / 100
        expected = expected.apply_fill(side, qty, price, NOW)
        s.update_position(
            "paper",
            "m",
            "SPY",
            lambda p, side=side, qty=qty, price=price: p.apply_fill(side, qty, price, NOW),
        )
    assert replace(s.get_position("paper", "m", "SPY"), version=0) == expected


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        lambda p: replace(p, lots=((10, D("NaN")),)),
        lambda p: replace(p, lots=((10.5, D("1")),)),
        lambda p: replace(p, lots=((10, D("1")), (-3, D("1")))),
        lambda p: replace(p, lots=((True, D("1")),)),
        lambda p: replace(p, realized_pnl=1.5),
        lambda p: replace(p, updated_at=datetime(2026, 1, 1)),  # noqa: DTZ001
        lambda p: replace(p, symbol="QQQ"),
    ],
)
def test_bad_position_values_are_refused_and_nothing_is_written(store: VersionedStateStore, bad: object) -> None:
    store.update_position("paper", "m", "SPY", buy(3, "10"))  # type: ignore[arg-type]
    before = store.get_position("paper", "m", "SPY")
    with pytest.raises(StateError):
        store.update_position("paper", "m", "SPY", bad)  # type: ignore[arg-type]
    assert store.get_position("paper", "m", "SPY") == before


@pytest.mark.parametrize("account", ["", "a:b", "a b", "{x}", 7])
def test_bad_keys_are_refused(store: VersionedStateStore, account: object) -> None:
    with pytest.raises(StateError):
        store.get_position(account, "m", "SPY")  # type: ignore[arg-type]


def test_values_of_an_unknown_schema_version_are_refused_not_misread(store: VersionedStateStore) -> None:
    key, index = store._position_key("paper", "m", "SPY")
    store._cas(key, '{"schema": 2, "kind": "position", "qty": 5}', 0, None, index)
    with pytest.raises(SchemaError, match="schema version 2; this build reads version 1"):
        store.get_position("paper", "m", "SPY")
    store._cas(store._risk_key("paper"), '{"schema": 1, "kind": "position"}', 0, None, None)
    with pytest.raises(SchemaError, match="is a 'position', expected 'risk_state'"):
        store.get_risk_state("paper")
    store._cas(store._snapshot_key("m", "SPY"), "not json", 0, None, None)
    with pytest.raises(SchemaError, match="not valid JSON"):
        store.load_snapshot("m", "SPY")


# --- open orders -----------------------------------------------------------------------------


def test_open_order_is_recorded_once_updated_and_removed(store: VersionedStateStore) -> None:
    assert store.add_open_order(order())
    assert not store.add_open_order(order()), "a second record of the same id must be refused"
    assert not store.add_open_order(order(account="other")), "the id is global, whatever the account"
    got = store.get_open_order("momentum-SPY-1")
    assert got is not None
    assert (got.status, got.version, got.limit_price) == (OrderStatus.NEW, 1, D("100.25"))
    updated = store.update_open_order(
        "momentum-SPY-1", lambda o: replace(o, events=frozenset({"accepted", "partial_fill"}), filled_qty=4)
    )
    assert (updated.filled_qty, updated.status, updated.version) == (4, OrderStatus.PARTIALLY_FILLED, 2)
    assert [o.client_order_id for o in store.open_orders("paper")] == ["momentum-SPY-1"]
    assert store.remove_open_order("momentum-SPY-1")
    assert store.get_open_order("momentum-SPY-1") is None
    assert store.open_orders("paper") == []
    assert not store.add_open_order(order()), "a finished order's id stays known: no second submit"
    with pytest.raises(KeyError):
        store.update_open_order("momentum-SPY-1", lambda o: o)
    assert not store.remove_open_order("nope")


def test_an_open_order_stored_by_the_previous_version_is_read_by_its_status(store: VersionedStateStore) -> None:
    # Given an order document as the build before one-order wrote it: a status, no events
    before = (
        '{"schema": 1, "kind": "open_order", "executions": [["x1", 4, "100.20", "2026-03-02T15:00:01+00:00", 4]],'
        ' "client_order_id": "momentum-SPY-1", "account": "paper", "strategy": "momentum", "symbol": "SPY",'
        ' "side": "buy", "qty": 10, "order_type": "limit", "status": "partially_filled", "limit_price": "100.25",'
        ' "filled_qty": 4, "broker_order_id": "b-1", "created_at": "2026-03-02T15:00:00+00:00",'
        ' "updated_at": "2026-03-02T15:00:01+00:00"}'
    )
    key, index = store._order_key("paper", "momentum-SPY-1")
    assert store._cas(store._order_lookup_key("momentum-SPY-1"), "paper", 0, None, None)
    assert store._cas(key, before, 0, None, index)
    # When it is read and a late cancel is merged into it
    got = store.get_open_order("momentum-SPY-1")
    assert got is not None
    assert (got.status, got.filled_qty, got.booked_qty) == (OrderStatus.PARTIALLY_FILLED, 4, 4)
    canceled = got.apply(OrderUpdate("momentum-SPY-1", "canceled", NOW, 4))
    # Then it behaves as an order this build wrote
    assert canceled.status is OrderStatus.CANCELED
    assert Order.from_json(canceled.to_json(), 2) == replace(canceled, version=2)


def test_bad_open_orders_are_refused(store: VersionedStateStore) -> None:
    with pytest.raises(StateError, match="filled_qty"):
        store.add_open_order(replace(order(), filled_qty=11))
    with pytest.raises(StateError, match="limit_price"):
        store.add_open_order(replace(order(), limit_price=D("Infinity")))
    assert store.get_open_order("momentum-SPY-1") is None


# --- snapshots and risk state --------------------------------------------------------------------


def test_strategy_snapshots_round_trip_exactly(store: VersionedStateStore) -> None:
    snap = {"version": 1, "state": {"window": [100.1, 0.1 + 0.2, 1e-300], "n": 3}}
    store.save_snapshot("momentum", "SPY", snap)
    assert store.load_snapshot("momentum", "SPY") == snap
    assert store.load_snapshot("momentum", "QQQ") is None
    ttl = store._ttl(store._snapshot_key("momentum", "SPY"))
    assert ttl is not None
    assert ttl > IDLE_TTL_SECONDS - 5
    with pytest.raises(StateError, match="NaN and infinity"):
        store.save_snapshot("momentum", "SPY", {"x": [float("nan")]})
    with pytest.raises(StateError, match="not JSON-serialisable"):
        store.save_snapshot("momentum", "SPY", {"x": object()})
    assert store.load_snapshot("momentum", "SPY") == snap


def test_a_bars_reads_in_one_go_equal_the_same_reads_one_by_one(store: VersionedStateStore) -> None:
    """``bar_state``: what the desk reads for a bar (snapshots, the strategies' positions in the
    symbol, the account's open orders), taken in one round trip on Redis."""
    store.save_snapshots("SPY", {"momentum": {"n": 1}, "breakout": {"n": 2}})
    store.save_snapshot("momentum", "QQQ", {"n": 3})
    store.update_position("paper", "momentum", "SPY", buy(10, "100.5"))  # type: ignore[arg-type]
    store.update_position("paper", "momentum", "QQQ", buy(5, "400"))  # type: ignore[arg-type]
    store.update_position("paper", "reconciled", "SPY", buy(1, "100"))  # type: ignore[arg-type]
    store.update_position("other", "breakout", "SPY", buy(7, "100"))  # type: ignore[arg-type]
    assert store.add_open_order(order())
    assert store.add_open_order(order("mean_reversion-QQQ-1", account="paper"))
    assert store.add_open_order(order("o-other", account="other"))

    read = store.bar_state("paper", ["momentum", "breakout", "mean_reversion"], "SPY")

    assert read.snapshots == store.load_snapshots(["momentum", "breakout", "mean_reversion"], "SPY")
    assert read.positions == {
        name: store.get_position("paper", name, "SPY") for name in ("momentum", "breakout", "mean_reversion")
    }
    assert read.positions["momentum"].qty == 10
    assert read.positions["breakout"].version == 0  # none stored: flat, version 0, as get_position
    assert read.open_orders == store.open_orders("paper")
    assert [o.client_order_id for o in read.open_orders] == ["mean_reversion-QQQ-1", "momentum-SPY-1"]
    empty = store.bar_state("nobody", [], "SPY")
    assert (dict(empty.snapshots), dict(empty.positions), empty.open_orders) == ({}, {}, [])


def test_a_bars_reads_are_one_redis_round_trip_two_with_open_orders() -> None:
    require("Redis at " + REDIS_URL, check_redis)
    store = RedisStateStore(REDIS_URL, prefix=f"qttest-{uuid.uuid4().hex[:12]}")
    trips = []
    plain, piped = redis.Redis.execute_command, redis.client.Pipeline.execute
    try:
        store.save_snapshots("SPY", {"momentum": {"n": 1}})
        with (
            mock.patch.object(redis.Redis, "execute_command", lambda *a, **k: trips.append(a[1]) or plain(*a, **k)),
            mock.patch.object(redis.client.Pipeline, "execute", lambda *a, **k: trips.append("pipe") or piped(*a, **k)),
        ):
            store.bar_state("paper", ["momentum", "breakout"], "SPY")
            assert trips == ["pipe"]
            store.add_open_order(order())
            trips.clear()
            assert len(store.bar_state("paper", ["momentum", "breakout"], "SPY").open_orders) == 1
            assert trips == ["pipe", "pipe"]
    finally:
        wipe(store)


def test_an_overwrite_is_one_write_that_keeps_counting_versions_and_the_ttl(store: VersionedStateStore) -> None:
    key = store._snapshot_key("momentum", "IBM")
    for n in range(1, 4):
        store.save_snapshot("momentum", "IBM", {"n": n})
        assert store._read(key)[1] == n
    assert store.load_snapshot("momentum", "IBM") == {"n": 3}
    assert (store._ttl(key) or 0) > IDLE_TTL_SECONDS - 5
    store.save_document("simbroker-x", "one")
    store.save_document("simbroker-x", "two")
    assert store.load_document("simbroker-x") == "two"
    assert store._ttl(store._document_key("simbroker-x")) is None, "a document never expires"
    # a compare-and-set against the version an overwrite produced still works
    assert store._cas(key, store._read(key)[0] or "", 3, None, None)


def test_risk_state_halt_and_resume(store: VersionedStateStore) -> None:
    assert store.get_risk_state("paper") == RiskState("paper")
    s = store.update_risk_state(
        "paper",
        lambda r: replace(r, day=date(2026, 3, 2), opening_equity=D("100000"), peak_equity=D("101000.50")),
    )
    s = store.update_risk_state("paper", lambda r: replace(r, halted=True, halt_reason="kill switch", halted_at=NOW))
    assert (s.halted, s.halt_reason, s.version, s.peak_equity) == (True, "kill switch", 2, D("101000.50"))
    assert store.get_risk_state("paper") == s
    with pytest.raises(StateError, match="a halt needs a reason"):
        store.update_risk_state("paper", lambda r: replace(r, halt_reason=""))
    s = store.update_risk_state("paper", lambda r: replace(r, halted=False, halt_reason="", halted_at=None))
    assert not s.halted


def test_an_update_from_a_state_read_a_moment_ago_is_still_compare_and_set(store: VersionedStateStore) -> None:
    """``known``: the risk gate starts from the risk state the bar read, saving a read; a state
    that moved on since (another order's reservation, a fill's release) loses and is read again."""
    known = store.update_risk_state("paper", lambda r: replace(r, peak_equity=D("100")))
    seen: list[int] = []

    def bump(r: RiskState) -> RiskState:
        seen.append(r.version)
        return replace(r, peak_equity=r.peak_equity + 1)

    fresh = store.update_risk_state("paper", bump, known)  # nobody wrote since: one attempt, no read
    assert (seen, fresh.peak_equity, fresh.version) == ([1], D("101"), 2)
    seen.clear()
    moved = store.update_risk_state("paper", bump, known)  # stale: loses, reads version 2, wins
    assert (seen, moved.peak_equity, moved.version) == ([1, 2], D("102"), 3)
    assert store.get_risk_state("paper") == moved
    with pytest.raises(StateError, match="another account"):
        store.update_risk_state("other", bump, known)


@pytest.mark.parametrize("store", ["redis"], indirect=True)
def test_a_dropped_redis_connection_is_retried(store: VersionedStateStore) -> None:
    assert isinstance(store, RedisStateStore)
    store.update_position("paper", "m", "SPY", buy(1, "10"))  # type: ignore[arg-type]
    store.client.client_setname("qt-under-test")
    admin = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    victims = [c["id"] for c in admin.client_list() if c.get("name") == "qt-under-test"]
    for client_id in victims:
        admin.client_kill_filter(_id=client_id)
    admin.close()
    assert victims
    p = store.update_position("paper", "m", "SPY", buy(1, "10"))  # type: ignore[arg-type]
    assert (p.qty, p.version) == (2, 2)


def test_a_record_recreated_at_the_same_version_is_read_as_it_is_now(store: VersionedStateStore) -> None:
    """Reads reuse decoded records by (stored text, version): a position that expired and was
    opened again starts at version 1 again, with other content, and must never read as the old one."""
    at = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    first = store.update_position("paper", "momentum", "SPY", lambda p: p.apply_fill(Side.BUY, 10, D("100"), at))
    assert store.get_position("paper", "momentum", "SPY").qty == 10
    key, index = store._position_key("paper", "momentum", "SPY")
    store._delete(key, index)  # expired
    again = store.update_position("paper", "momentum", "SPY", lambda p: p.apply_fill(Side.BUY, 5, D("101"), at))
    assert first.version == again.version == 1
    assert store.get_position("paper", "momentum", "SPY").qty == 5
    assert [p.qty for p in store.positions("paper")] == [5]


def test_an_update_that_changes_nothing_writes_nothing(store: VersionedStateStore) -> None:
    """A release of a reservation already released, a redelivered update: no write, no new version
    (one round trip fewer on the live path; version-based conflict detection is unaffected,
    since every real change still writes)."""
    state = store.update_risk_state("paper", lambda r: replace(r, halted=True, halt_reason="test"))
    again = store.update_risk_state("paper", lambda r: r)
    assert again.version == state.version == store.get_risk_state("paper").version
