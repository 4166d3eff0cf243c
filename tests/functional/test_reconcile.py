"""Reconciliation adopts the broker's truth, records every drift, and halts trading until done."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from quantterminal.adapters.broker.simulated_broker import SimulatedBroker
from quantterminal.adapters.ledger.sqlite_ledger import SqliteLedger
from quantterminal.adapters.state.memory_state import MemoryStateStore
from quantterminal.core.accounting.orders import Order, OrderType, OrderUpdate
from quantterminal.core.models import Bar, Side
from quantterminal.core.risk.gate import RiskGate
from quantterminal.core.risk.manager import AccountView
from quantterminal.core.trading.broker import BrokerUnavailable
from quantterminal.core.trading.engine import TradingEngine
from quantterminal.core.trading.reconcile import RECONCILE_HALT, UNASSIGNED, Reconciler, find_drifts

NOW = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)


def world() -> tuple[MemoryStateStore, SimulatedBroker, RiskGate, SqliteLedger, list[str]]:
    store = MemoryStateStore()
    ledger = SqliteLedger(":memory:")
    ledger.migrate()
    alerts: list[str] = []
    broker = SimulatedBroker(start=NOW)
    return store, broker, RiskGate(store, "paper", ledger=ledger, alert=alerts.append), ledger, alerts


def request(coid: str, qty: int, limit: str | None = None) -> Order:
    kind = OrderType.LIMIT if limit else OrderType.MARKET
    return Order(coid, "momentum", "SPY", Side.BUY, qty, kind, NOW, Decimal(100), Decimal(limit) if limit else None)


def test_every_kind_of_drift_is_found_recorded_and_resolved() -> None:
    store, broker, gate, ledger, alerts = world()
    broker.submit(request("momentum-SPY-filled", 20))  # filled at the broker while we were down
    broker.on_bar(Bar("SPY", NOW, 100.0, 100.5, 99.5, 100.2, 100_000))
    broker.submit(request("momentum-SPY-unknown", 5, limit="90"))  # open at the broker, unknown here
    store.add_open_order(
        Order("momentum-SPY-filled", "momentum", "SPY", Side.BUY, 20, OrderType.MARKET, account="paper", created_at=NOW)
    )
    store.add_open_order(
        Order("momentum-SPY-ghost", "momentum", "SPY", Side.BUY, 3, OrderType.MARKET, account="paper", created_at=NOW)
    )
    # nothing heard of the two local orders for longer than the grace for updates in flight
    drifts = Reconciler(store, broker, gate, alerts.append).run(NOW + timedelta(minutes=3))

    assert {(d.kind, d.key) for d in drifts} == {
        ("unknown_open_order", "momentum-SPY-unknown"),
        ("stale_open_order", "momentum-SPY-filled"),
        ("stale_open_order", "momentum-SPY-ghost"),
        ("position", "SPY"),
    }
    assert find_drifts(store, broker, "paper") == []
    assert [o.client_order_id for o in store.open_orders("paper")] == ["momentum-SPY-unknown"]
    position = store.get_position("paper", UNASSIGNED, "SPY")
    assert (position.qty, position.avg_price) == (20, Decimal("100.0"))
    assert not store.get_risk_state("paper").halted, "our own halt is lifted once resolved"
    kinds = [e.kind for e in ledger.risk_events_on(date(2024, 3, 4))]
    assert kinds.count("drift") == 4
    assert kinds[0] == "halt"
    assert kinds[-1] == "resume"
    assert sum("reconciliation drift" in a for a in alerts) == 4


def test_nothing_to_do_when_in_agreement_and_a_manual_halt_is_never_lifted() -> None:
    store, broker, gate, _, _ = world()
    assert Reconciler(store, broker, gate).run(NOW) == []
    gate.halt("operator", NOW)
    store.add_open_order(
        Order("ghost", "momentum", "SPY", Side.BUY, 3, OrderType.MARKET, account="paper", created_at=NOW)
    )
    assert Reconciler(store, broker, gate).run(NOW + timedelta(minutes=3))
    assert store.get_risk_state("paper").halt_reason == "operator"


class FlakyBroker(SimulatedBroker):
    def positions(self):  # type: ignore[no-untyped-def]
        if getattr(self, "_calls", 0) >= 1:
            raise BrokerUnavailable("positions endpoint down")
        self._calls = getattr(self, "_calls", 0) + 1
        return super().positions()


def test_a_failed_reconciliation_leaves_trading_halted() -> None:
    store, _, _, ledger, _ = world()
    broker = FlakyBroker(start=NOW)
    gate = RiskGate(store, "paper", ledger=ledger)
    store.add_open_order(
        Order("ghost", "momentum", "SPY", Side.BUY, 3, OrderType.MARKET, account="paper", created_at=NOW)
    )
    with pytest.raises(BrokerUnavailable):
        Reconciler(store, broker, gate).run(NOW + timedelta(minutes=3))
    assert store.get_risk_state("paper").halt_reason == RECONCILE_HALT


def test_a_fill_in_flight_during_reconciliation_is_counted_once() -> None:
    """The broker fills an order; reconciliation runs before the order-events handler books the
    fill; then the fill is booked. The position must hold the shares once, not twice."""
    store, broker, gate, ledger, _ = world()
    engine = TradingEngine("momentum", "paper", store, broker, gate, ledger)
    updates: list[OrderUpdate] = []
    broker.on_update(updates.append)  # the "orders" stream: delivered later
    order = request("momentum-SPY-buy", 20)
    store.add_open_order(
        Order(order.client_order_id, "momentum", "SPY", Side.BUY, 20, OrderType.MARKET, account="paper", created_at=NOW)
    )
    ledger.record_order(order)
    broker.submit(order)
    broker.on_bar(Bar("SPY", NOW, 100.0, 100.5, 99.5, 100.2, 100_000))  # filled at the broker
    assert [u.event for u in updates] == ["new", "fill"]

    assert Reconciler(store, broker, gate).run(NOW + timedelta(seconds=30)) == []  # in flight: no drift
    for update in updates:  # the handler catches up
        engine.on_update(update)

    assert store.get_position("paper", "momentum", "SPY").qty == 20
    assert sum(p.qty for p in store.positions("paper")) == 20 == broker.positions()[0].qty
    assert find_drifts(store, broker, "paper") == []


def test_an_in_flight_fill_whose_update_never_comes_is_adopted_after_the_grace_once() -> None:
    store, broker, gate, _, _ = world()
    order = request("momentum-SPY-buy", 20)
    store.add_open_order(
        Order(order.client_order_id, "momentum", "SPY", Side.BUY, 20, OrderType.MARKET, account="paper", created_at=NOW)
    )
    broker.submit(order)
    broker.on_bar(Bar("SPY", NOW, 100.0, 100.5, 99.5, 100.2, 100_000))
    drifts = Reconciler(store, broker, gate).run(NOW + timedelta(minutes=5))
    assert {d.kind for d in drifts} == {"stale_open_order", "position"}
    assert sum(p.qty for p in store.positions("paper")) == 20
    assert Reconciler(store, broker, gate).run(NOW + timedelta(minutes=10)) == []


def test_positions_adopted_by_reconciliation_count_toward_the_symbol_limit() -> None:
    store, _broker, gate, _, _ = world()
    store.update_position(
        "paper", UNASSIGNED, "SPY", lambda p: p.apply_fill(Side.BUY, 95, Decimal(100), NOW, "adopted")
    )  # 9,500 of 100,000 equity: another 1,000 would pass the 10% limit only if this were not counted
    view = AccountView(Decimal(100_000), Decimal(90_500), {}, {"SPY": Decimal(100)})
    intent = Order("momentum-SPY-x", "momentum", "SPY", Side.BUY, 10, OrderType.LIMIT, limit_price=Decimal(100))
    decision = gate.check(intent, view, NOW)
    assert (decision.accepted, decision.rule) == (False, "position_limit")
