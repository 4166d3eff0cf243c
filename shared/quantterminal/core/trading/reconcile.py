"""Reconciliation: make local state agree with the broker's, which is the truth.

Run at start-up and on demand (``qterm reconcile``, the reconcile Lambda). It compares the state
store's open orders and positions with the broker's; every difference (a *drift*) is recorded as
a risk event and alerted, and the broker's version is adopted. While drifts are being resolved
trading is halted; if resolving fails, the halt stays, so nothing trades on state known to be
wrong. A halt set by someone else (an operator's kill switch) is never lifted here.

Reconciliation runs while fills are in flight: the broker has executed, the order-events handler
has not booked it yet. Copying the broker's position then would count that fill twice (once here,
once when it is booked). So both sides agree on which executions a position contains: an open
order records the executions booked for it, and what the broker reports filled beyond that is *in
flight* -- expected, not a drift. Orders are reconciled first; positions after, against the local
position plus what is in flight. An order the broker has finished but we still hold open is only a
drift once ``grace`` has passed since we last heard of it (its last updates are on their way).

A broker position the system cannot hold (a fractional quantity: a trade made by hand in the
broker's dashboard) is no reason to stop: its symbol is left as it is, and every run alerts it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from quantterminal.core.accounting.orders import Order
from quantterminal.core.accounting.ports import StateStore
from quantterminal.core.accounting.state import PositionState
from quantterminal.core.risk.gate import RiskGate
from quantterminal.core.trading.broker import BrokerPosition
from quantterminal.core.trading.ports import Broker

RECONCILE_HALT = "reconciliation in progress"
UNASSIGNED = "unassigned"  # the strategy that holds broker positions no local strategy accounts for
IN_FLIGHT_GRACE = timedelta(minutes=2)


@dataclass(frozen=True)
class Drift:
    """One difference between local state and the broker's."""

    kind: str
    key: str
    local: str
    broker: str

    def describe(self) -> str:
        return f"{self.kind} {self.key}: local {self.local}, broker {self.broker}"


def _in_grace(order: Order, now: datetime | None, grace: timedelta) -> bool:
    heard = order.updated_at or order.created_at
    return now is not None and heard is not None and now - heard < grace


def find_order_drifts(
    store: StateStore, broker: Broker, account: str, now: datetime | None = None, grace: timedelta = IN_FLIGHT_GRACE
) -> list[Drift]:
    """Open orders the broker has and we do not, and ones we hold open that the broker has
    finished (or never had) for longer than ``grace`` (without ``now``: at once)."""
    drifts: list[Drift] = []
    local_open = {o.client_order_id: o for o in store.open_orders(account)}
    broker_open = {o.client_order_id: o for o in broker.open_orders()}
    for coid in sorted(broker_open.keys() - local_open.keys()):
        drifts.append(Drift("unknown_open_order", coid, "none", broker_open[coid].status.value))
    for coid in sorted(local_open.keys() - broker_open.keys()):
        if _in_grace(local_open[coid], now, grace):
            continue
        found = broker.get_order(coid)
        theirs = found.status.value if found else "none"
        drifts.append(Drift("stale_open_order", coid, local_open[coid].status.value, theirs))
    return drifts


def in_flight(store: StateStore, broker: Broker, account: str) -> dict[str, int]:
    """Signed shares per symbol the broker has filled for our open orders and we have not booked."""
    broker_open = {o.client_order_id: o for o in broker.open_orders()}
    flying: dict[str, int] = defaultdict(int)
    for order in store.open_orders(account):
        theirs = broker_open.get(order.client_order_id) or broker.get_order(order.client_order_id)
        if theirs is not None and theirs.filled_qty > order.booked_qty:
            flying[order.symbol] += order.side.sign * (theirs.filled_qty - order.booked_qty)
    return flying


def find_position_drifts(
    store: StateStore, broker: Broker, account: str, left_alone: list[BrokerPosition] | None = None
) -> list[Drift]:
    """Symbols whose booked position plus what is in flight differs from the broker's position;
    the broker's positions the system cannot hold are left alone (and added to ``left_alone``)."""
    local_qty: dict[str, int] = defaultdict(int)
    for position in store.positions(account):
        local_qty[position.symbol] += position.qty
    flying = in_flight(store, broker, account)
    reported = broker.positions()
    broker_positions = {p.symbol: p.qty for p in reported if not p.unreadable}
    unreadable = [p for p in reported if p.unreadable]
    if left_alone is not None:
        left_alone.extend(unreadable)
    drifts = []
    for symbol in sorted((set(local_qty) | set(broker_positions) | set(flying)) - {p.symbol for p in unreadable}):
        ours = local_qty.get(symbol, 0) + flying.get(symbol, 0)
        theirs = broker_positions.get(symbol, 0)
        if ours != theirs:
            drifts.append(Drift("position", symbol, str(ours), str(theirs)))
    return drifts


def find_drifts(
    store: StateStore,
    broker: Broker,
    account: str,
    now: datetime | None = None,
    grace: timedelta = IN_FLIGHT_GRACE,
    left_alone: list[BrokerPosition] | None = None,
) -> list[Drift]:
    """Every way the local view of ``account`` differs from the broker's (see the module docs)."""
    orders = find_order_drifts(store, broker, account, now, grace)
    return orders + find_position_drifts(store, broker, account, left_alone)


class Reconciler:
    """Finds drifts for one account and adopts the broker's truth."""

    def __init__(
        self,
        store: StateStore,
        broker: Broker,
        gate: RiskGate,
        alert: Callable[[str], None] | None = None,
        grace: timedelta = IN_FLIGHT_GRACE,
    ):
        self.store = store
        self.broker = broker
        self.gate = gate
        self.account = gate.account
        self.alert = alert
        self.grace = grace

    def run(self, now: datetime) -> list[Drift]:
        """Reconcile; return the drifts found (all resolved when this returns normally). Orders
        first, then positions against what the reconciled orders have in flight."""
        left_alone: list[BrokerPosition] = []
        found = find_drifts(self.store, self.broker, self.account, now, self.grace, left_alone)
        for position in left_alone:
            message = f"reconciliation leaves {position.symbol} alone: {position.unreadable}"
            self.gate.record_event(now, "unreconciled", message, None)
            if self.alert is not None:
                self.alert(message)
        if not found:
            return []
        halted_by_us = not self.store.get_risk_state(self.account).halted
        if halted_by_us:
            self.gate.halt(RECONCILE_HALT, now)
        # an exception from here on leaves the halt in place
        drifts = self._resolve(find_order_drifts(self.store, self.broker, self.account, now, self.grace), now)
        drifts += self._resolve(find_position_drifts(self.store, self.broker, self.account), now)
        remaining = find_drifts(self.store, self.broker, self.account, now, self.grace)
        if remaining:
            raise RuntimeError(f"{len(remaining)} drift(s) remain after reconciliation; trading stays halted")
        if halted_by_us and self.store.get_risk_state(self.account).halt_reason == RECONCILE_HALT:
            self.gate.resume("reconciled with the broker", now)
        return drifts

    def _resolve(self, drifts: list[Drift], now: datetime) -> list[Drift]:
        for drift in drifts:
            message = f"reconciliation drift: {drift.describe()}; adopting the broker's"
            self.gate.record_event(now, "drift", message, None)
            if self.alert is not None:
                self.alert(message)
        self._adopt(drifts, now)
        return drifts

    def _adopt(self, drifts: list[Drift], now: datetime) -> None:
        broker_open = {o.client_order_id: o for o in self.broker.open_orders()}
        for drift in drifts:
            if drift.kind == "unknown_open_order":
                self.store.add_open_order(self._open_order(broker_open[drift.key], now))
            elif drift.kind == "stale_open_order":
                self.store.remove_open_order(drift.key)
                self.gate.settle(drift.key, 0)
        if not any(d.kind == "position" for d in drifts):
            return
        positions = {p.symbol: p for p in self.broker.positions()}
        flying = in_flight(self.store, self.broker, self.account)
        for drift in drifts:
            if drift.kind != "position":
                continue
            held = [p for p in self.store.positions(self.account) if p.symbol == drift.key and p.qty]
            target = positions.get(drift.key)
            booked = sum(p.qty for p in held) + flying.get(drift.key, 0)
            difference = (target.qty if target else 0) - booked
            owner = held[0].strategy if len(held) == 1 else UNASSIGNED
            price = target.avg_entry_price if target else None
            self.store.update_position(self.account, owner, drift.key, self._shift(difference, price, now))

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

    def _open_order(self, order: Order, now: datetime) -> Order:
        """The broker's order adopted as ours: it keeps what the broker said of it, but no
        executions (none is booked yet: what it filled so far is in flight)."""
        return replace(
            order,
            account=self.account,
            strategy=order.strategy or UNASSIGNED,
            executions=(),
            created_at=order.created_at or now,
            updated_at=now,
        )
