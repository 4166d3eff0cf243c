"""Reconciliation: make local state agree with the broker's, which is the truth.

Run at start-up and on demand (``qterm reconcile``). It compares the state store's open orders
and positions with the broker's; every difference (a *drift*) is recorded as a risk event and
alerted, and the broker's version is adopted. While drifts are being resolved trading is halted;
if resolving fails, the halt stays, so nothing trades on state known to be wrong. A halt set by
someone else (an operator's kill switch) is never lifted here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from quantterminal.core.broker import BrokerOrder
from quantterminal.core.ports import Broker, StateStore
from quantterminal.core.risk_gate import RiskGate
from quantterminal.core.state import OpenOrder, PositionState

RECONCILE_HALT = "reconciliation in progress"
UNASSIGNED = "unassigned"  # the strategy that holds broker positions no local strategy accounts for


@dataclass(frozen=True)
class Drift:
    """One difference between local state and the broker's."""

    kind: str
    key: str
    local: str
    broker: str

    def describe(self) -> str:
        return f"{self.kind} {self.key}: local {self.local}, broker {self.broker}"


def find_drifts(store: StateStore, broker: Broker, account: str) -> list[Drift]:
    """Every way the local view of ``account`` differs from the broker's."""
    drifts: list[Drift] = []
    local_open = {o.client_order_id: o for o in store.open_orders(account)}
    broker_open = {o.client_order_id: o for o in broker.open_orders()}
    for coid in sorted(broker_open.keys() - local_open.keys()):
        drifts.append(Drift("unknown_open_order", coid, "none", broker_open[coid].status))
    for coid in sorted(local_open.keys() - broker_open.keys()):
        found = broker.get_order(coid)
        drifts.append(Drift("stale_open_order", coid, local_open[coid].status, found.status if found else "none"))
    for coid in sorted(local_open.keys() & broker_open.keys()):
        if local_open[coid].filled_qty != broker_open[coid].filled_qty:
            drifts.append(
                Drift("order_fill", coid, str(local_open[coid].filled_qty), str(broker_open[coid].filled_qty))
            )
    local_qty: dict[str, int] = defaultdict(int)
    for position in store.positions(account):
        local_qty[position.symbol] += position.qty
    broker_positions = {p.symbol: p for p in broker.positions()}
    for symbol in sorted(set(local_qty) | set(broker_positions)):
        theirs = broker_positions[symbol].qty if symbol in broker_positions else 0
        if local_qty.get(symbol, 0) != theirs:
            drifts.append(Drift("position", symbol, str(local_qty.get(symbol, 0)), str(theirs)))
    return drifts


class Reconciler:
    """Finds drifts for one account and adopts the broker's truth."""

    def __init__(self, store: StateStore, broker: Broker, gate: RiskGate, alert: Callable[[str], None] | None = None):
        self.store = store
        self.broker = broker
        self.gate = gate
        self.account = gate.account
        self.alert = alert

    def run(self, now: datetime) -> list[Drift]:
        """Reconcile; return the drifts found (all resolved when this returns normally)."""
        drifts = find_drifts(self.store, self.broker, self.account)
        if not drifts:
            return []
        halted_by_us = not self.store.get_risk_state(self.account).halted
        if halted_by_us:
            self.gate.halt(RECONCILE_HALT, now)
        for drift in drifts:
            message = f"reconciliation drift: {drift.describe()}; adopting the broker's"
            self.gate.record_event(now, "drift", message, None)
            if self.alert is not None:
                self.alert(message)
        self._adopt(drifts, now)  # an exception here leaves the halt in place
        remaining = find_drifts(self.store, self.broker, self.account)
        if remaining:
            raise RuntimeError(f"{len(remaining)} drift(s) remain after reconciliation; trading stays halted")
        if halted_by_us and self.store.get_risk_state(self.account).halt_reason == RECONCILE_HALT:
            self.gate.resume("reconciled with the broker", now)
        return drifts

    def _adopt(self, drifts: list[Drift], now: datetime) -> None:
        broker_open = {o.client_order_id: o for o in self.broker.open_orders()}
        for drift in drifts:
            if drift.kind == "unknown_open_order":
                self.store.add_open_order(self._open_order(broker_open[drift.key], now))
            elif drift.kind == "stale_open_order":
                self.store.remove_open_order(drift.key)
                self.gate.settle(drift.key, 0)
            elif drift.kind == "order_fill":
                self.store.update_open_order(drift.key, self._follow(broker_open[drift.key], now))
        positions = {p.symbol: p for p in self.broker.positions()}
        for drift in drifts:
            if drift.kind != "position":
                continue
            held = [p for p in self.store.positions(self.account) if p.symbol == drift.key and p.qty]
            target = positions.get(drift.key)
            difference = (target.qty if target else 0) - sum(p.qty for p in held)
            owner = held[0].strategy if len(held) == 1 else UNASSIGNED
            price = target.avg_entry_price if target else None

            self.store.update_position(self.account, owner, drift.key, self._shift(difference, price, now))

    @staticmethod
    def _follow(theirs: BrokerOrder, now: datetime) -> Callable[[OpenOrder], OpenOrder]:
        def change(order: OpenOrder) -> OpenOrder:
            return replace(order, filled_qty=theirs.filled_qty, status=theirs.status, updated_at=now)

        return change

    @staticmethod
    def _shift(difference: int, price: Decimal | None, now: datetime) -> Callable[[PositionState], PositionState]:
        """Move a position by ``difference`` shares; the result is one lot at the broker's average
        entry price (its own lot history is the broker's, not ours)."""

        def change(position: PositionState) -> PositionState:
            qty = position.qty + difference
            if qty == 0:
                return replace(position, lots=(), updated_at=now)
            lot_price = price if price is not None else (position.avg_price or Decimal(0))
            return replace(position, lots=((qty, lot_price),), updated_at=now)

        return change

    def _open_order(self, order: BrokerOrder, now: datetime) -> OpenOrder:
        strategy = order.client_order_id.split("-", 1)[0] if "-" in order.client_order_id else UNASSIGNED
        return OpenOrder(
            order.client_order_id,
            self.account,
            strategy or UNASSIGNED,
            order.symbol,
            order.side,
            order.qty,
            order.order_type,
            order.status,
            order.limit_price,
            order.filled_qty,
            order.broker_order_id,
            order.submitted_at or now,
            now,
        )
