"""The risk gate: the risk manager run atomically against the stored risk state.

Every order passes here, in every environment. The decision and its reservation are written in
one compare-and-set of the account's risk state, so concurrent decisions cannot overspend; every
rejection and every alert is recorded in the ledger as a risk event.

The position the limits are checked against is read *inside* that compare-and-set, after the risk
state: booking a fill writes the position first and then releases the order's reservation (a new
risk-state version). A check that read the position before the fill and the reservations after
the release would miss the fill; here the release changes the version the check read, so the
check is evaluated again and sees the fill. Every interleaving counts an order's shares once in
the position or in its reservation, never in neither. The position is the whole account's in
that symbol: every strategy's and what reconciliation adopted (``unassigned``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from quantterminal.core.accounting.orders import Order
from quantterminal.core.accounting.ports import StateStore
from quantterminal.core.accounting.records import RiskEvent
from quantterminal.core.accounting.state import RiskState
from quantterminal.core.market_data.sessions import session_date
from quantterminal.core.risk.manager import (
    AccountView,
    RiskDecision,
    RiskLimits,
    evaluate,
    halt,
    resume,
    set_strategy_enabled,
    set_symbol_halted,
    settle,
)
from quantterminal.core.risk.ports import RiskJournal


class RiskGate:
    """Pre-trade checks for one account."""

    def __init__(
        self,
        store: StateStore,
        account: str,
        limits: RiskLimits | None = None,
        ledger: RiskJournal | None = None,
        alert: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.account = account
        self.limits = limits or RiskLimits()
        self.ledger = ledger
        self.alert = alert

    def position(self, symbol: str) -> int:
        """Signed shares of ``symbol`` the state store books for the whole account."""
        return sum(p.qty for p in self.store.positions_in(self.account, symbol))

    def check(
        self,
        order: Order,
        account: AccountView,
        now: datetime,
        session_time: datetime | None = None,
        known: RiskState | None = None,
    ) -> RiskDecision:
        """Evaluate ``order`` (``session_time``: the minute whose session it belongs to, as in
        ``evaluate``); if accepted, its reservation is stored before this returns. The
        position in ``order.symbol`` is read from the store within the same atomic step (see the
        module docs); the rest of ``account`` (equity, cash, prices) as given. ``known``: the risk
        state as the caller read it a moment ago (the compare-and-set catches any change since)."""
        decisions: list[RiskDecision] = []

        def change(state: RiskState) -> RiskState:
            held = {**account.positions, order.symbol: self.position(order.symbol)}
            decisions.append(evaluate(order, replace(account, positions=held), state, self.limits, now, session_time))
            return decisions[-1].state

        self.store.update_risk_state(self.account, change, known)
        decision = decisions[-1]  # the evaluation that won the compare-and-set
        for message in decision.alerts:
            self.record_event(now, "alert", message, order)
            if self.alert is not None:
                self.alert(message)
        if not decision.accepted:
            self.record_event(now, "rejection", decision.reason, order, rule=decision.rule)
        return decision

    def settle(self, client_order_id: str, remaining_qty: int) -> RiskState:
        """Release what an order no longer needs (all of it once the order is done)."""
        return self.store.update_risk_state(self.account, lambda s: settle(s, client_order_id, remaining_qty))

    def halt(self, reason: str, now: datetime) -> RiskState:
        """The kill switch: no order passes from the next decision on."""
        state = self.store.update_risk_state(self.account, lambda s: halt(s, reason, now))
        self.record_event(now, "halt", reason, None)
        if self.alert is not None:
            self.alert(f"trading halted: {reason}")
        return state

    def resume(self, reason: str, now: datetime) -> RiskState:
        """Lift a halt or a tripped breaker."""
        state = self.store.update_risk_state(self.account, resume)
        self.record_event(now, "resume", reason or "resumed", None)
        return state

    def set_strategy_enabled(self, strategy: str, enabled: bool, reason: str, now: datetime) -> RiskState:
        """Enable or disable one strategy's new entries; recorded as a risk event with ``reason``."""
        state = self.store.update_risk_state(self.account, lambda s: set_strategy_enabled(s, strategy, enabled))
        kind = "enable" if enabled else "disable"
        self.record_event(now, kind, reason or f"strategy {kind}d", None, strategy=strategy)
        return state

    def set_symbol_halted(self, symbol: str, halted: bool, reason: str, now: datetime) -> RiskState:
        """An exchange halted ``symbol`` (or let it resume): from now on no order for it passes
        (or they do again). Recorded as a risk event; a halt also alerts. Idempotent."""
        was: list[bool] = []  # the halt as the winning compare-and-set found it

        def change(s: RiskState) -> RiskState:
            was.append(any(h[0] == symbol for h in s.halted_symbols))
            return set_symbol_halted(s, symbol, halted, reason, session_date(now))

        state = self.store.update_risk_state(self.account, change)
        if was[-1] != halted:  # a repeated status changes nothing and is not recorded again
            kind = "symbol_halt" if halted else "symbol_resume"
            self.record_event(now, kind, f"{symbol}: {reason}", None, symbol=symbol)
            if halted and self.alert is not None:
                self.alert(f"{symbol} halted by its exchange: {reason}; no orders for it until it resumes")
        return state

    def record_event(
        self,
        now: datetime,
        kind: str,
        reason: str,
        order: Order | None,
        rule: str = "",
        strategy: str | None = None,
        symbol: str | None = None,
    ) -> None:
        """Append a risk event for this account to the ledger (if there is one)."""
        if self.ledger is None:
            return
        details: dict[str, object] = {"rule": rule} if rule else {}
        if order is not None:
            details.update(
                client_order_id=order.client_order_id,
                side=order.side.value,
                qty=order.qty,
                price=str(order.limit_price or order.decision_price),
            )
        self.ledger.record_risk_event(
            RiskEvent(
                now,
                self.account,
                kind,
                reason,
                order.strategy if order else strategy,
                order.symbol if order else symbol,
                details,
            )
        )
