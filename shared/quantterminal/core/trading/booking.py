"""Booking a broker's updates into one strategy's books -- what the order-events handler does
for every ``trade_updates`` message, and the backtest and paper run for their simulated broker's.

Each update is merged into the stored order (``Order.apply``: commutative, idempotent), its new
executions are booked into the strategy's position exactly once (by execution id, in canonical
order), the risk reservation shrinks as the order fills or ends, and the ledger keeps the audit
trail. Nothing about orders is kept in memory: a warm Lambda does not grow, a cold one starts
where the last left off, and any number of processes can book updates. Only without a ledger (a
backtest) are the fills booked kept here, to re-sort a late execution.
"""

from __future__ import annotations

from dataclasses import replace

from quantterminal.core.accounting.order_ids import STOP_EXIT, TIME_EXIT, intent_of
from quantterminal.core.accounting.orders import OrderUpdate
from quantterminal.core.accounting.ports import StateStore
from quantterminal.core.accounting.state import PositionState
from quantterminal.core.models import Fill, Side
from quantterminal.core.money import ZERO
from quantterminal.core.risk.gate import RiskGate
from quantterminal.core.trading.ports import TradeJournal


class UpdateBooking:
    """One strategy's books on one account, fed the broker's updates about its orders."""

    def __init__(
        self, account: str, strategy: str, store: StateStore, gate: RiskGate, ledger: TradeJournal | None
    ) -> None:
        self.account = account
        self.strategy_name = strategy
        self.store = store
        self.gate = gate
        self.ledger = ledger
        self._fills: dict[str, list[Fill]] = {}  # only without a ledger: see the module docs

    def _book(self, fill: Fill, by_leg: bool = False) -> None:
        """Apply ``fill`` to the stored position in canonical order (execution time, then id): the
        usual case appends; an execution that belongs before one already applied makes the position
        be rebuilt from every fill of this strategy and symbol, so lots and realised P&L do not
        depend on the order the broker delivered them in. ``by_leg``: an exit leg's fill -- if it
        leaves the position flat, the position says which side it closed (``PositionState.exited``)."""
        if self.ledger is None:
            self._fills.setdefault(fill.symbol, []).append(fill)
        key = (fill.timestamp, fill.execution_id)

        closed = "long" if fill.side is Side.SELL else "short"  # what an exit leg's fill closes

        def apply(position: PositionState) -> PositionState:
            if position.last_execution is None or key > position.last_execution:
                after = position.apply_fill(fill.side, fill.qty, fill.price, fill.timestamp, fill.execution_id)
                return replace(after, exited=closed) if by_leg and after.qty == 0 and position.qty else after
            if key == position.last_execution:
                return position  # this very execution was booked already
            rebuilt = replace(position, lots=(), realized_pnl=ZERO, last_execution=None, opened_at=None)
            for earlier in self._history(fill.symbol):
                rebuilt = rebuilt.apply_fill(
                    earlier.side, earlier.qty, earlier.price, earlier.timestamp, earlier.execution_id
                )
            return rebuilt

        self.store.update_position(self.account, self.strategy_name, fill.symbol, apply)

    def _history(self, symbol: str) -> list[Fill]:
        """Every fill of this strategy in ``symbol``, canonically ordered (the ledger's, if any)."""
        if self.ledger is not None:
            return self.ledger.fills_for(self.strategy_name, symbol)
        return sorted(self._fills.get(symbol, []), key=lambda f: (f.timestamp, f.execution_id))

    def on_update(self, update: OrderUpdate) -> list[Fill]:
        """Book a broker update (idempotent; any arrival order).

        An order leaves the open orders only when it is terminal *and* every execution the broker
        counted in its cumulative quantity has been booked: a ``fill`` that overtakes the
        ``partial_fill`` before it must not make that execution an update for an unknown order."""
        open_order = self.store.get_open_order(update.client_order_id)
        if open_order is None:
            return []  # not ours (or long finished): reconciliation deals with strangers
        merged = open_order.apply(update)
        if self.ledger is not None:
            self.ledger.append_order_event(replace(update, filled_avg_price=merged.avg_fill_price))
        known = {e.execution_id for e in open_order.executions}
        fills = [
            Fill(merged.symbol, e.timestamp, merged.side, e.qty, e.price, ZERO, merged.client_order_id, e.execution_id)
            for e in merged.executions
            if e.execution_id not in known
        ]
        for fill in fills:
            # Booked even when the ledger knew the fill: a process that crashed between the two
            # writes left it unbooked, and booking is idempotent (by execution time and id).
            if self.ledger is not None:
                self.ledger.append_fill(fill)
            self._book(fill, by_leg=merged.protective or intent_of(merged.client_order_id) in (TIME_EXIT, STOP_EXIT))
        # Position first, then the reservation: a risk check never sees both without the fill.
        if merged.status.terminal and merged.unexplained_qty <= 0:
            # Settle before forgetting the order: a crash in between leaves the order to be found
            # by the redelivered update, never a reservation nobody will release.
            self.gate.settle(merged.client_order_id, 0)
            self.store.remove_open_order(merged.client_order_id)
        else:
            # Merged into the order as stored now: a concurrent writer's facts are kept too (the
            # usual case, the order as read, needs no second merge).
            self.store.update_open_order(
                merged.client_order_id, lambda o: merged if o.version == open_order.version else o.apply(update)
            )
            # What is not in the position yet stays reserved: the unfilled rest of a live order,
            # or the executions a finished order still owes.
            unbooked = merged.unexplained_qty if merged.status.terminal else merged.qty - merged.executed_qty
            self.gate.settle(merged.client_order_id, unbooked)
        return fills
