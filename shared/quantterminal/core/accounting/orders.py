"""One order record, from the decision to the ledger, and the reports that move it along.

Four shapes carry an order between a strategy's decision and the ledger, each for a reason:

- ``Order``: the order itself. What was decided (the first fields, fixed from then on) and every
  fact learned about it since (events seen, cumulative fill, executions, the broker's id). The
  kernel records it in the state store, the risk gate vets it, the broker places it and reports it
  back in the same shape, and the ledger keeps its decided terms.
- ``OrderUpdate``: one report about an order (Alpaca's ``trade_updates`` message, or the simulated
  broker's), as it arrives: late, twice, or out of order. The ledger appends it as the audit trail.
- ``Execution`` (``core.models``): one fill inside an update; it becomes a ``Fill`` when booked.
- ``Reservation`` (``core.accounting.state``): what the risk gate holds for an order's unfilled
  rest; it lives in the risk state's single document so a risk check reads one record.

An order's status is a pure function of the *set* of facts received about it -- the largest
cumulative filled quantity, the executions (keyed by execution id), which lifecycle events were
seen, and the latest cancel request and refusal -- so merging an update (``Order.apply``) is
commutative and idempotent: every arrival order and any duplication give the same order. Terminal
statuses (filled, canceled, expired, rejected, replaced) absorb: nothing later moves an order out.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from quantterminal.core.accounting.order_terms import (
    PLACED_TYPES,
    OrderTermsError,
    OrderType,
    TimeInForce,
    check_terms,
    read_terms,
    terms_document,
)
from quantterminal.core.accounting.state_codec import (
    SchemaError,
    StateError,
    check_int,
    check_money,
    check_text,
    check_ts,
    dec_text,
    decode,
    encode,
    read_dec,
    read_ts,
    ts_text,
)
from quantterminal.core.models import Execution, Side
from quantterminal.core.money import ZERO

__all__ = [
    "ACK_EVENTS",
    "KNOWN_EVENTS",
    "PLACED_TYPES",
    "Order",
    "OrderStatus",
    "OrderTermsError",
    "OrderType",
    "OrderUpdate",
    "OrderUpdateError",
    "TimeInForce",
]


class OrderStatus(enum.Enum):
    """Where an order is in its life (a broker's finer statuses map onto these: ``of_broker``)."""

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
_TERMINAL_EVENTS = {
    "canceled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
    "replaced": OrderStatus.REPLACED,
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
        "done_for_day",
    }
)
KNOWN_EVENTS = ACK_EVENTS | set(_TERMINAL_EVENTS) | {"stopped", "suspended"}
# The event that leads to each status: an order known only by its status (a broker's listing, a
# stored order of an earlier version) is seeded with it, so a canceled order stays canceled when a
# late fill arrives. A broker's own statuses ("pending_new", "held", ...) count as acknowledged.
_STATUS_EVENT = {
    "new": "accepted",
    "accepted": "accepted",
    "partially_filled": "partial_fill",
    "filled": "fill",
    "canceled": "canceled",
    "expired": "expired",
    "rejected": "rejected",
    "replaced": "replaced",
    "done_for_day": "done_for_day",
}


class OrderUpdateError(ValueError):
    """An update that cannot belong to the order it names (wrong id, side, symbol or size)."""


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """A broker's report about an order, normalised. ``cum_filled_qty`` is cumulative (as Alpaca
    reports ``order.filled_qty``); ``execution`` is set for fill and partial_fill events;
    ``filled_avg_price`` is the order's average fill price once this report is in, if known."""

    client_order_id: str
    event: str
    timestamp: datetime
    cum_filled_qty: int = 0
    execution: Execution | None = None
    broker_order_id: str | None = None
    filled_avg_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Order:
    """One order from decision to done (see the module docs): its decided terms, then the facts
    received about it. ``status`` is derived from the facts, never set; ``version`` is the state
    store's compare-and-set version it was read under (never part of the stored document)."""

    client_order_id: str
    strategy: str
    symbol: str
    side: Side
    qty: int
    order_type: OrderType
    decision_time: datetime | None = None  # the start of the minute bar whose close the decision followed
    decision_price: Decimal | None = None
    limit_price: Decimal | None = None
    account: str = ""
    events: frozenset[str] = frozenset()
    filled_qty: int = 0  # cumulative, as the broker reports it (may run ahead of ``executions``)
    filled_avg_price: Decimal | None = None
    executions: tuple[Execution, ...] = ()  # received (the state store's: booked into the position)
    broker_order_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    cancel_requested_at: datetime | None = None
    cancel_rejected_at: datetime | None = None
    stop_price: Decimal | None = None  # a stop or stop-limit order's trigger
    trail_bps: Decimal | None = None  # a trailing stop's distance behind the best price since it works
    time_in_force: TimeInForce = TimeInForce.DAY
    # An entry with exit legs (Alpaca's order classes: both is a bracket, one is one-triggers-other):
    # once it fills, a take-profit limit at ``take_profit`` and a stop at ``stop_loss`` work for the
    # shares it filled, and the first to fill cancels the other.
    take_profit: Decimal | None = None
    stop_loss: Decimal | None = None
    parent: str | None = None  # a leg's entry (its client order id)
    # One-cancels-other protection of a position already held (Alpaca's ``oco`` order class): this
    # order is the take-profit limit, and its one leg the stop-loss at ``stop_loss``; the first to
    # fill cancels the other. (An entry's legs are a bracket or one-triggers-other instead.)
    oco: bool = False
    # placed on terms its strategy chose (``Wanted``): it works until it fills, its time in force
    # ends or the strategy's answer changes -- never canceled as stale after the cancel age
    strategy_terms: bool = False
    version: int = 0

    KIND: ClassVar[str] = "open_order"

    def check_terms(self) -> None:
        """Raise ``OrderTermsError`` unless the terms fit the order's type (a broker refuses such
        an order; the kernel never builds one)."""
        check_terms(self)

    @property
    def status(self) -> OrderStatus:
        """The status implied by the facts received (independent of their order)."""
        events = self.events
        if "fill" in events or self.filled_qty >= self.qty:
            return OrderStatus.FILLED
        for event in _TERMINAL_PRECEDENCE:
            if event in events:
                return _TERMINAL_EVENTS[event]
        requested, refused = self.cancel_requested_at, self.cancel_rejected_at
        if requested is not None and (refused is None or refused < requested):
            return OrderStatus.PENDING_CANCEL
        if self.filled_qty > 0:
            return OrderStatus.PARTIALLY_FILLED
        if events & ACK_EVENTS:
            return OrderStatus.ACCEPTED
        return OrderStatus.NEW

    @property
    def protective(self) -> bool:
        """An order that protects a position rather than answers a decision: an exit leg, a
        one-cancels-other exit, or a trailing stop (the kernel keeps these under a position). It works until the
        position is closed: never canceled as stale, canceled first by the strategy's own exit."""
        return self.parent is not None or self.oco or self.order_type is OrderType.TRAILING_STOP

    @property
    def price(self) -> Decimal:
        """The price the order is expected to trade at: its limit, else its stop (a stop becomes a
        market order where the market reaches it), else the decision's price."""
        price = self.limit_price or self.stop_price or self.decision_price
        if price is None:
            raise ValueError(f"order {self.client_order_id} has neither a limit nor a decision price")
        return price

    @property
    def executed_qty(self) -> int:
        """Shares accounted for by executions received (may lag ``filled_qty``)."""
        return sum(e.qty for e in self.executions)

    @property
    def booked_qty(self) -> int:
        """Shares of this order booked into the position (the stored order's executions)."""
        return self.executed_qty

    @property
    def unexplained_qty(self) -> int:
        """Shares the broker says are filled but whose executions never arrived (reconcile)."""
        return self.filled_qty - self.executed_qty

    @property
    def avg_fill_price(self) -> Decimal | None:
        """Share-weighted average price of the executions received (else as the broker reported)."""
        qty = self.executed_qty
        if qty == 0:
            return self.filled_avg_price
        return sum((e.qty * e.price for e in self.executions), ZERO) / qty

    @property
    def remaining_qty(self) -> int:
        """Shares still to fill while the order is live; 0 once terminal."""
        return 0 if self.status.terminal else self.qty - self.filled_qty

    def reported_as(self, status: str, acknowledged: bool = True) -> Order:
        """This order known only by a status name (a broker's listing, or a store written before
        orders kept their events), seeded with the event that leads to it. A broker's "new" is an
        acknowledged order; ours (``acknowledged=False``) is one the broker has not confirmed."""
        if status == OrderStatus.NEW.value and not acknowledged:
            return self
        if status == OrderStatus.PENDING_CANCEL.value:
            requested = self.cancel_requested_at or self.updated_at or self.created_at
            return replace(self, events=self.events | {"accepted"}, cancel_requested_at=requested)
        return replace(self, events=self.events | {_STATUS_EVENT.get(status, "accepted")})

    def apply(self, update: OrderUpdate) -> Order:
        """This order merged with ``update``: commutative, idempotent."""
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
        requested, refused = self.cancel_requested_at, self.cancel_rejected_at
        if update.event == "pending_cancel":
            requested = _later(requested, update.timestamp)
        elif update.event == "order_cancel_rejected":
            refused = _later(refused, update.timestamp)
        executed = sum(e.qty for e in executions)
        # our own executions say it exactly; else what the broker reported, if anything
        reported = update.filled_avg_price or self.filled_avg_price
        avg = sum((e.qty * e.price for e in executions), ZERO) / executed if executed else reported
        return replace(
            self,
            filled_qty=max(self.filled_qty, update.cum_filled_qty, executed),
            executions=executions,
            events=self.events | {update.event},
            filled_avg_price=avg,
            cancel_requested_at=requested,
            cancel_rejected_at=refused,
            broker_order_id=self.broker_order_id or update.broker_order_id,
            updated_at=_later(self.updated_at, update.timestamp),
        )

    # --- the stored form (state store) -------------------------------------------------------------

    def validate(self) -> None:
        """Raise ``StateError`` unless every field holds a value of its kind."""
        for name in ("client_order_id", "account", "strategy", "symbol"):
            check_text(name, getattr(self, name))
        if not isinstance(self.side, Side) or not isinstance(self.order_type, OrderType):
            raise StateError(f"side and order type must be enums, got {self.side!r} and {self.order_type!r}")
        check_int("qty", self.qty)
        check_int("filled_qty", self.filled_qty)
        if self.qty <= 0 or not 0 <= self.filled_qty <= self.qty:
            raise StateError(f"need 0 < qty and 0 <= filled_qty <= qty, got {self.qty} and {self.filled_qty}")
        for money in ("limit_price", "decision_price", "filled_avg_price", "stop_price", "take_profit", "stop_loss"):
            check_money(money, getattr(self, money), optional=True)
        if not isinstance(self.time_in_force, TimeInForce):
            raise StateError(f"time in force must be an enum, got {self.time_in_force!r}")
        for moment in ("decision_time", "created_at", "updated_at", "cancel_requested_at", "cancel_rejected_at"):
            check_ts(moment, getattr(self, moment))
        if not self.events <= KNOWN_EVENTS:
            raise StateError(f"unknown order events {sorted(self.events - KNOWN_EVENTS)}")
        for e in self.executions:
            if not isinstance(e, Execution):
                raise StateError(f"execution {e!r} is not an Execution")
            check_text("execution_id", e.execution_id)
            check_int("execution qty", e.qty)
            check_money("execution price", e.price)
            check_ts("execution time", e.timestamp, optional=False)
        if self.executed_qty > self.qty:
            raise StateError(f"executions of {self.executed_qty} exceed the order quantity {self.qty}")

    def to_json(self) -> str:
        self.validate()
        return encode(
            self.KIND,
            {
                "executions": [
                    [e.execution_id, e.qty, str(e.price), e.timestamp.isoformat(), e.cum_qty] for e in self.executions
                ],
                "client_order_id": self.client_order_id,
                "account": self.account,
                "strategy": self.strategy,
                "symbol": self.symbol,
                "side": self.side.value,
                "qty": self.qty,
                "order_type": self.order_type.value,
                "status": self.status.value,  # for a reader of the store; ``events`` is the fact
                "events": sorted(self.events),
                "decision_time": ts_text(self.decision_time),
                "decision_price": dec_text(self.decision_price),
                "limit_price": dec_text(self.limit_price),
                "filled_qty": self.filled_qty,
                "filled_avg_price": dec_text(self.filled_avg_price),
                "broker_order_id": self.broker_order_id,
                "created_at": ts_text(self.created_at),
                "updated_at": ts_text(self.updated_at),
                "cancel_requested_at": ts_text(self.cancel_requested_at),
                "cancel_rejected_at": ts_text(self.cancel_rejected_at),
                **terms_document(self),
            },
        )

    @classmethod
    def from_json(cls, text: str | bytes, version: int) -> Order:
        """The stored order; one written before orders kept their events is read by its status."""
        doc = decode(cls.KIND, text)
        try:
            order = cls(
                client_order_id=doc["client_order_id"],
                strategy=doc["strategy"],
                symbol=doc["symbol"],
                side=Side(doc["side"]),
                qty=doc["qty"],
                order_type=OrderType(doc["order_type"]),
                decision_time=read_ts(doc, "decision_time", cls.KIND),
                decision_price=read_dec(doc, "decision_price", cls.KIND),
                limit_price=read_dec(doc, "limit_price", cls.KIND),
                account=doc["account"],
                events=frozenset(str(e) for e in doc.get("events", ())),
                filled_qty=doc["filled_qty"],
                filled_avg_price=read_dec(doc, "filled_avg_price", cls.KIND),
                executions=tuple(_read_execution(row) for row in doc.get("executions", ())),
                broker_order_id=doc.get("broker_order_id"),
                created_at=read_ts(doc, "created_at", cls.KIND),
                updated_at=read_ts(doc, "updated_at", cls.KIND),
                cancel_requested_at=read_ts(doc, "cancel_requested_at", cls.KIND),
                cancel_rejected_at=read_ts(doc, "cancel_rejected_at", cls.KIND),
                **read_terms(doc),
                version=version,
            )
            if "events" not in doc:
                order = order.reported_as(str(doc["status"]), acknowledged=False)
            order.validate()
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise SchemaError(f"stored open order is malformed: {exc}") from None
        return order


def _read_execution(row: list[Any]) -> Execution:
    execution_id, qty, price, at, *rest = row
    cum = rest[0] if rest else None  # absent in older records
    return Execution(
        str(execution_id), int(qty), Decimal(price), datetime.fromisoformat(at), None if cum is None else int(cum)
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
