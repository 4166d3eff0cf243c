"""Exact account state from broker updates alone, in any arrival order.

``AccountBook`` tracks orders (``Order.apply`` merges each update commutatively) and turns their
executions into exact positions and cash by replaying them in a canonical order (execution time,
then execution id), so positions, average cost, realised P&L and cash do not depend on the order
the updates arrived in. The broker contract tests and the trade-stream tests check a broker's
reports against it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from quantterminal.core.accounting.order_ids import strategy_of
from quantterminal.core.accounting.orders import Order, OrderType, OrderUpdate, OrderUpdateError
from quantterminal.core.accounting.portfolio import Portfolio
from quantterminal.core.models import Fill, Side
from quantterminal.core.money import ZERO


@dataclass
class AccountBook:
    """Orders and exact account state (cash, FIFO positions) from broker updates, independent of
    the order in which the updates arrive."""

    initial_cash: Decimal
    commission_per_fill: Decimal = ZERO
    orders: dict[str, Order] = field(default_factory=dict)
    portfolio: Portfolio = field(init=False)
    _fills: list[tuple[tuple[datetime, str], Fill]] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.portfolio = Portfolio(self.initial_cash)

    def track(self, client_order_id: str, symbol: str, side: Side, qty: int) -> Order:
        """Start tracking an order (idempotent); updates for untracked orders are refused."""
        state = self.orders.get(client_order_id)
        if state is None:
            state = self.orders[client_order_id] = Order(
                client_order_id, strategy_of(client_order_id), symbol, side, qty, OrderType.MARKET
            )
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
