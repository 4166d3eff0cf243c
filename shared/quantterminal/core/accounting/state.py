"""The hot state the pipeline shares between processes: positions, risk state (open orders are
``core.accounting.orders.Order``, stored the same way).

Each is stored as a versioned JSON document (``state_codec``). Records carry the ``version``
under which they were read; stores use it for compare-and-set and never write it inside the
document.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cached_property

from quantterminal.core.accounting.portfolio import Position
from quantterminal.core.accounting.state_codec import (
    SCHEMA_VERSION,
    SchemaError,
    StateError,
    check_int,
    check_money,
    check_text,
    check_ts,
    dec_text,
    decode,
    decode_snapshot,
    encode,
    encode_snapshot,
    read_dec,
    read_ts,
    ts_text,
)
from quantterminal.core.models import Side
from quantterminal.core.money import ZERO

# --- positions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PositionState:
    """One (account, strategy, symbol) position as FIFO lots, with exact realised P&L."""

    account: str
    strategy: str
    symbol: str
    lots: tuple[tuple[int, Decimal], ...] = ()
    realized_pnl: Decimal = ZERO
    updated_at: datetime | None = None
    last_execution: tuple[datetime, str] | None = None  # (time, id) of the latest execution applied
    # the execution that opened the position (from flat, or reversing it); None while flat
    opened_at: datetime | None = None
    # "long" or "short": the side an exit leg (a stop-loss, a take-profit) last closed; the instance
    # enters that way again only once its strategy's answer has changed (``TradingEngine.act``)
    exited: str | None = None
    version: int = 0

    KIND = "position"

    @cached_property
    def qty(self) -> int:
        """Signed shares held (computed once: positions are read on every decision)."""
        return sum(q for q, _ in self.lots)

    @property
    def avg_price(self) -> Decimal | None:
        """Average entry price of the open lots (display only)."""
        qty = self.qty
        return None if qty == 0 else sum((q * p for q, p in self.lots), ZERO) / qty

    def apply_fill(
        self, side: Side, qty: int, price: Decimal, at: datetime, execution_id: str | None = None
    ) -> PositionState:
        """The position after a fill, with the same FIFO accounting as the backtester."""
        position = Position.from_lots(self.symbol, self.lots, self.realized_pnl)
        position.apply(side, qty, price)
        last = (at, execution_id) if execution_id is not None else self.last_execution
        before, after = self.qty, position.qty
        held_on = before != 0 and after != 0 and (before > 0) is (after > 0)
        opened = self.opened_at if held_on else at if after else None
        return replace(
            self,
            lots=position.lots(),
            realized_pnl=position.realized_pnl,
            updated_at=at,
            last_execution=last,
            opened_at=opened,
            exited=self.exited if after == 0 else None,
        )

    def validate(self) -> None:
        """Raise ``StateError`` unless every field has the right type and the lots are coherent."""
        for name in ("account", "strategy", "symbol"):
            check_text(name, getattr(self, name))
        signs = set()
        for lot in self.lots:
            if not isinstance(lot, tuple) or len(lot) != 2:
                raise StateError(f"lot {lot!r} is not a (qty, price) pair")
            check_int("lot qty", lot[0])
            check_money("lot price", lot[1])
            if lot[0] == 0 or lot[1] <= 0:
                raise StateError(f"lot {lot!r} must have a non-zero qty and a positive price")
            signs.add(lot[0] > 0)
        if len(signs) > 1:
            raise StateError("a position's lots must all be long or all short")
        check_money("realized_pnl", self.realized_pnl)
        check_ts("updated_at", self.updated_at)
        check_ts("opened_at", self.opened_at)
        if self.exited not in (None, "long", "short"):
            raise StateError(f"exited must be long, short or None, got {self.exited!r}")

    def to_json(self) -> str:
        self.validate()
        return encode(
            self.KIND,
            {
                "account": self.account,
                "strategy": self.strategy,
                "symbol": self.symbol,
                "lots": [[q, str(p)] for q, p in self.lots],
                "realized_pnl": str(self.realized_pnl),
                "updated_at": ts_text(self.updated_at),
                "last_execution": None
                if self.last_execution is None
                else [self.last_execution[0].isoformat(), self.last_execution[1]],
                "opened_at": ts_text(self.opened_at),
                "exited": self.exited,
            },
        )

    @classmethod
    def from_json(cls, text: str | bytes, version: int) -> PositionState:
        doc = decode(cls.KIND, text)
        try:
            lots = tuple((int(q), Decimal(p)) for q, p in doc["lots"])
            state = cls(
                account=doc["account"],
                strategy=doc["strategy"],
                symbol=doc["symbol"],
                lots=lots,
                realized_pnl=read_dec(doc, "realized_pnl", cls.KIND) or ZERO,
                updated_at=read_ts(doc, "updated_at", cls.KIND),
                last_execution=None
                if doc.get("last_execution") is None
                else (datetime.fromisoformat(doc["last_execution"][0]), str(doc["last_execution"][1])),
                opened_at=read_ts(doc, "opened_at", cls.KIND),  # absent in positions stored before it was kept
                exited=doc.get("exited"),
                version=version,
            )
            state.validate()
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise SchemaError(f"stored position is malformed: {exc}") from None
        return state


# --- risk state ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reservation:
    """Buying power and exposure held for an order that has passed risk and is not yet done.

    Not the order itself: only what the risk rules count (its unfilled rest at its price), kept
    inside the account's one ``RiskState`` document so a risk check reads and writes one record
    atomically, whatever the state store holds of the orders."""

    client_order_id: str
    symbol: str
    side: Side
    qty: int
    price: Decimal

    @property
    def notional(self) -> Decimal:
        return self.qty * self.price


@dataclass(frozen=True)
class RiskState:
    """An account's risk bookkeeping: the day's opening equity, the peak, halts (manual kill
    switch or drawdown breaker; daily-loss halt of entries) and the reservations of live orders."""

    account: str
    day: date | None = None
    opening_equity: Decimal | None = None
    peak_equity: Decimal | None = None
    halted: bool = False
    halt_reason: str = ""
    halted_at: datetime | None = None
    entries_halted_on: date | None = None
    reservations: tuple[Reservation, ...] = ()
    disabled_strategies: tuple[str, ...] = ()  # sorted; their new entries are refused
    # (symbol, why, New York session date of the halt, ISO), sorted: exchange halts, no entry goes
    # out; each lasts until its resume, an operator's clear, or the end of its session at the latest
    halted_symbols: tuple[tuple[str, str, str], ...] = ()
    released: int = 0  # how often a reservation shrank or ended (a fill, an order's end): cash may have moved
    version: int = 0

    KIND = "risk_state"

    def validate(self) -> None:
        check_text("account", self.account)
        if self.day is not None and (not isinstance(self.day, date) or isinstance(self.day, datetime)):
            raise StateError(f"day must be a date, got {self.day!r}")
        check_money("opening_equity", self.opening_equity, optional=True)
        check_money("peak_equity", self.peak_equity, optional=True)
        if not isinstance(self.halted, bool):
            raise StateError(f"halted must be a bool, got {self.halted!r}")
        if not isinstance(self.halt_reason, str):
            raise StateError(f"halt_reason must be a string, got {self.halt_reason!r}")
        if self.halted and not self.halt_reason:
            raise StateError("a halt needs a reason")
        check_ts("halted_at", self.halted_at)
        check_int("released", self.released)
        if self.released < 0:
            raise StateError(f"released must be >= 0, got {self.released}")
        for name in self.disabled_strategies:
            check_text("disabled strategy", name)
        for symbol, why, on in self.halted_symbols:
            check_text("halted symbol", symbol)
            if not isinstance(why, str) or not isinstance(on, str):
                raise StateError(f"the halt of {symbol} needs a reason and a session date, got {why!r}, {on!r}")
        for r in self.reservations:
            if not isinstance(r, Reservation) or not isinstance(r.side, Side):
                raise StateError(f"reservation {r!r} is not a Reservation")
            check_text("reservation client_order_id", r.client_order_id)
            check_int("reservation qty", r.qty)
            check_money("reservation price", r.price)
            if r.qty <= 0 or r.price <= 0:
                raise StateError(f"reservation {r.client_order_id} needs a positive qty and price")

    def to_json(self) -> str:
        self.validate()
        return encode(
            self.KIND,
            {
                "account": self.account,
                "day": None if self.day is None else self.day.isoformat(),
                "opening_equity": dec_text(self.opening_equity),
                "peak_equity": dec_text(self.peak_equity),
                "halted": self.halted,
                "halt_reason": self.halt_reason,
                "halted_at": ts_text(self.halted_at),
                "entries_halted_on": None if self.entries_halted_on is None else self.entries_halted_on.isoformat(),
                "reservations": [
                    [r.client_order_id, r.symbol, r.side.value, r.qty, str(r.price)] for r in self.reservations
                ],
                "disabled_strategies": list(self.disabled_strategies),
                "halted_symbols": [list(h) for h in self.halted_symbols],
                "released": self.released,
            },
        )

    @classmethod
    def from_json(cls, text: str | bytes, version: int) -> RiskState:
        doc = decode(cls.KIND, text)
        try:
            state = cls(
                account=doc["account"],
                day=None if doc.get("day") is None else date.fromisoformat(doc["day"]),
                opening_equity=read_dec(doc, "opening_equity", cls.KIND),
                peak_equity=read_dec(doc, "peak_equity", cls.KIND),
                halted=doc["halted"],
                halt_reason=doc["halt_reason"],
                halted_at=read_ts(doc, "halted_at", cls.KIND),
                entries_halted_on=None
                if doc.get("entries_halted_on") is None
                else date.fromisoformat(doc["entries_halted_on"]),
                reservations=tuple(
                    Reservation(c, sym, Side(side), qty, Decimal(price))
                    for c, sym, side, qty, price in doc.get("reservations", [])
                ),
                disabled_strategies=tuple(doc.get("disabled_strategies", ())),
                # (a halt stored before halts carried their session date: "" expires at the next roll)
                halted_symbols=tuple(
                    (str(h[0]), str(h[1]), str(h[2]) if len(h) > 2 else "") for h in doc.get("halted_symbols", ())
                ),
                released=doc.get("released", 0),  # absent from a state stored before it was counted
                version=version,
            )
            state.validate()
        except (KeyError, TypeError, ValueError) as exc:
            raise SchemaError(f"stored risk state is malformed: {exc}") from None
        return state


__all__ = [
    "SCHEMA_VERSION",
    "PositionState",
    "Reservation",
    "RiskState",
    "SchemaError",
    "StateError",
    "decode",
    "decode_snapshot",
    "encode",
    "encode_snapshot",
]
