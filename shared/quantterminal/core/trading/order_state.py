"""Order lifecycle from broker updates that arrive late, twice, or out of order.

An order's state is a pure function of the *set* of facts received about it -- the largest
cumulative filled quantity, the executions (keyed by execution id) and which lifecycle events were
seen -- so merging an update is commutative and idempotent: every arrival order and any
duplication give the same final state. Terminal states (filled, canceled, expired, rejected,
replaced) absorb: nothing received later moves an order out of them.

``AccountBook`` turns the executions of all orders into exact positions and cash by replaying
them in a canonical order (execution time, then execution id), so positions, average cost,
realised P&L and cash do not depend on arrival order either.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from quantterminal.core.accounting.portfolio import Portfolio
from quantterminal.core.models import Execution, Fill, Side
from quantterminal.core.money import ZERO

if TYPE_CHECKING:  # state.py imports this module; an open order is only read here
    from quantterminal.core.accounting.state import OpenOrder


class OrderStatus(enum.Enum):
    """Where an order is in its life."""

    NEW = "new"  # recorded locally, not yet acknowledged by the broker
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    PENDING_CANCEL = "pending_cancel"
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"
    REPLACED = "replaced"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED, OrderStatus.REPLACED}
)
# Broker event names (Alpaca's trade_updates) -> the terminal status they put an order in.
# The same, as the status strings stored and reported (a broker's own statuses -- Alpaca's
# "pending_new", "held" -- are simply not in it).
TERMINAL_STATUSES = frozenset(status.value for status in _TERMINAL)

_TERMINAL_EVENTS = {
    "canceled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
    "replaced": OrderStatus.REPLACED,
    "done_for_day": None,
}
# If (against the rules) two different terminal events are reported, the first in this list wins,
# whatever their arrival order.
_TERMINAL_PRECEDENCE = ("rejected", "canceled", "expired", "replaced")
ACK_EVENTS = frozenset(
    {
        "new",
        "accepted",
        "pending_new",
        "partial_fill",
        "fill",
        "pending_cancel",
        "pending_replace",
        "order_cancel_rejected",
        "order_replace_rejected",
        "calculated",
    }
)
KNOWN_EVENTS = ACK_EVENTS | set(_TERMINAL_EVENTS) | {"stopped", "suspended"}


class OrderUpdateError(ValueError):
    """An update that cannot belong to the order it names (wrong id, side, symbol or size)."""


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """A broker's report about an order, normalised. ``cum_filled_qty`` is cumulative (as Alpaca
    reports ``order.filled_qty``); ``execution`` is set for fill and partial_fill events."""

    client_order_id: str
    event: str
    timestamp: datetime
    cum_filled_qty: int = 0
    execution: Execution | None = None
    broker_order_id: str | None = None


@dataclass(frozen=True)
class OrderState:
    """Everything known about one order, merged from its updates."""

    client_order_id: str
    symbol: str
    side: Side
    qty: int
    filled_qty: int = 0
    executions: tuple[Execution, ...] = ()
    events: frozenset[str] = frozenset()
    last_cancel_request: datetime | None = None
    last_cancel_reject: datetime | None = None
    broker_order_id: str | None = None

    @property
    def status(self) -> OrderStatus:
        """The status implied by the facts received (independent of their order)."""
        if "fill" in self.events or self.filled_qty >= self.qty:
            return OrderStatus.FILLED
        for event in _TERMINAL_PRECEDENCE:
            if event in self.events:
                status = _TERMINAL_EVENTS[event]
                assert status is not None
                return status
        if self.last_cancel_request is not None and (
            self.last_cancel_reject is None or self.last_cancel_reject < self.last_cancel_request
        ):
            return OrderStatus.PENDING_CANCEL
        if self.filled_qty > 0:
            return OrderStatus.PARTIALLY_FILLED
        if self.events & ACK_EVENTS:
            return OrderStatus.ACCEPTED
        return OrderStatus.NEW

    @property
    def executed_qty(self) -> int:
        """Shares accounted for by executions received (may lag ``filled_qty``)."""
        return sum(e.qty for e in self.executions)

    @property
    def unexplained_qty(self) -> int:
        """Shares the broker says are filled but whose executions never arrived (reconcile)."""
        return self.filled_qty - self.executed_qty

    @property
    def avg_fill_price(self) -> Decimal | None:
        """Share-weighted average price of the executions received."""
        qty = self.executed_qty
        return None if qty == 0 else sum((e.qty * e.price for e in self.executions), ZERO) / qty

    @property
    def remaining_qty(self) -> int:
        """Shares still to fill while the order is live; 0 once terminal."""
        return 0 if self.status.terminal else self.qty - self.filled_qty

    def apply(self, update: OrderUpdate) -> OrderState:
        """This state merged with ``update``: commutative, idempotent."""
        if update.client_order_id != self.client_order_id:
            raise OrderUpdateError(f"update for {update.client_order_id!r} applied to {self.client_order_id!r}")
        if update.event not in KNOWN_EVENTS:
            raise OrderUpdateError(f"unknown order event {update.event!r}")
        if isinstance(update.cum_filled_qty, bool) or not 0 <= update.cum_filled_qty <= self.qty:
            raise OrderUpdateError(f"cumulative fill {update.cum_filled_qty!r} outside 0..{self.qty}")
        executions = self.executions
        if update.execution is not None:
            known = {e.execution_id: e for e in executions}
            previous = known.get(update.execution.execution_id)
            if previous is not None and not _same_execution(previous, update.execution):
                raise OrderUpdateError(f"execution {update.execution.execution_id} reported twice, differently")
            if previous is None and any(_same_fill(e, update.execution) for e in executions):
                previous = update.execution  # the same execution under another source's id: known already
            if previous is None:
                executions = tuple(sorted((*executions, update.execution), key=_execution_key))
                if sum(e.qty for e in executions) > self.qty:
                    raise OrderUpdateError(f"executions exceed the order quantity {self.qty}")
        cancel_request, cancel_reject = self.last_cancel_request, self.last_cancel_reject
        if update.event == "pending_cancel":
            cancel_request = _later(cancel_request, update.timestamp)
        elif update.event == "order_cancel_rejected":
            cancel_reject = _later(cancel_reject, update.timestamp)
        return replace(
            self,
            filled_qty=max(self.filled_qty, update.cum_filled_qty, sum(e.qty for e in executions)),
            executions=executions,
            events=self.events | {update.event},
            last_cancel_request=cancel_request,
            last_cancel_reject=cancel_reject,
            broker_order_id=self.broker_order_id or update.broker_order_id,
        )


def _same_execution(a: Execution, b: Execution) -> bool:
    """One execution id reported twice: the same shares, price and time (a source may omit the
    cumulative quantity)."""
    return (a.qty, a.price, a.timestamp) == (b.qty, b.price, b.timestamp) and (
        a.cum_qty is None or b.cum_qty is None or a.cum_qty == b.cum_qty
    )


def _same_fill(a: Execution, b: Execution) -> bool:
    """Two reports of one execution under different ids (the stream's and the REST activity's):
    the order's cumulative quantity after it, its shares and its price agree. The first report
    received is kept, so the execution is counted once whichever source comes first."""
    return a.cum_qty is not None and a.cum_qty == b.cum_qty and a.qty == b.qty and a.price == b.price


def _later(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None or candidate > current else current


def _execution_key(execution: Execution) -> tuple[datetime, str]:
    return execution.timestamp, execution.execution_id


# The broker event that leads to each stored status: seeding a rebuilt order's events with it
# keeps what the stored status implies (a canceled order stays canceled when a late fill arrives).
_STATUS_EVENT = {
    OrderStatus.ACCEPTED.value: "accepted",
    OrderStatus.PARTIALLY_FILLED.value: "partial_fill",
    OrderStatus.FILLED.value: "fill",
    OrderStatus.CANCELED.value: "canceled",
    OrderStatus.EXPIRED.value: "expired",
    OrderStatus.REJECTED.value: "rejected",
    OrderStatus.REPLACED.value: "replaced",
}


def from_open_order(order: OpenOrder) -> OrderState:
    """An order's state as far as the stored open order knows it: its status, its cumulative
    filled quantity and the executions already booked (merging an update into it is then the same
    as merging it into the state of the process that wrote the open order)."""
    event = _STATUS_EVENT.get(order.status)
    pending_cancel = order.status == OrderStatus.PENDING_CANCEL.value
    return OrderState(
        order.client_order_id,
        order.symbol,
        order.side,
        order.qty,
        filled_qty=max(order.filled_qty, order.booked_qty),
        executions=order.executions,
        events=frozenset() if event is None else frozenset({event}),
        last_cancel_request=(order.updated_at or order.created_at) if pending_cancel else None,
        broker_order_id=order.broker_order_id,
    )


@dataclass
class AccountBook:
    """Orders and exact account state (cash, FIFO positions) from broker updates, independent of
    the order in which the updates arrive."""

    initial_cash: Decimal
    commission_per_fill: Decimal = ZERO
    orders: dict[str, OrderState] = field(default_factory=dict)
    portfolio: Portfolio = field(init=False)
    _fills: list[tuple[tuple[datetime, str], Fill]] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.portfolio = Portfolio(self.initial_cash)

    def track(self, client_order_id: str, symbol: str, side: Side, qty: int) -> OrderState:
        """Start tracking an order (idempotent); updates for untracked orders are refused."""
        state = self.orders.get(client_order_id)
        if state is None:
            state = self.orders[client_order_id] = OrderState(client_order_id, symbol, side, qty)
        elif (state.symbol, state.side, state.qty) != (symbol, side, qty):
            raise OrderUpdateError(f"order {client_order_id} is already tracked with other terms")
        return state

    def apply(self, update: OrderUpdate) -> list[Fill]:
        """Merge ``update``; return the fills it added (empty for a duplicate)."""
        state = self.orders.get(update.client_order_id)
        if state is None:
            raise OrderUpdateError(f"update for unknown order {update.client_order_id!r}")
        new_state = state.apply(update)
        self.orders[update.client_order_id] = new_state
        known = {e.execution_id for e in state.executions}
        added = [e for e in new_state.executions if e.execution_id not in known]
        fills = [
            Fill(
                state.symbol,
                e.timestamp,
                state.side,
                e.qty,
                e.price,
                self.commission_per_fill,
                state.client_order_id,
                e.execution_id,
            )
            for e in added
        ]
        for fill in fills:
            self._book(fill)
        return fills

    def apply_all(self, updates: Iterable[OrderUpdate]) -> None:
        for update in updates:
            self.apply(update)

    def _book(self, fill: Fill) -> None:
        key = (fill.timestamp, fill.execution_id)
        if not self._fills or key > self._fills[-1][0]:
            self._fills.append((key, fill))
            self.portfolio.apply_fill(fill)
            return
        # A late execution that belongs earlier: replay all fills in canonical order (rare).
        self._fills.append((key, fill))
        self._fills.sort(key=lambda item: item[0])
        self.portfolio = Portfolio(self.initial_cash)
        for _, earlier in self._fills:
            self.portfolio.apply_fill(earlier)
