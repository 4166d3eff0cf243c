"""The trading desk: every enabled strategy of one account, fed bars and broker updates.

This is what the bar handler and the order-events handler run -- in a Lambda, and in the local
paper run -- so the stages stay the same everywhere: for each bar, every strategy decides (each
through its own ``TradingEngine``: strategy -> risk -> placement); each broker update goes to the
engine of the strategy that placed the order.

A bar is traded only while it is fresh: a backfilled bar, a revision, or a bar delivered long
after its minute closed still feeds the strategies (their indicators must not skip a minute) but
places no order on an old price.

Round trips to the state store are what a bar costs, so the desk makes them once for all its
strategies: their snapshots are read in one go; every strategy answers (no I/O); the new snapshots
are written in one go -- before any order is acted on, so a crash in between replays the answers,
never feeds a bar twice; then, only if some strategy wants a position, the account's positions
and open orders are read once and each strategy acts on them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from quantterminal.core.feed_events import BarSource, BarUpdate
from quantterminal.core.models import Bar, Fill
from quantterminal.core.order_state import OrderUpdate
from quantterminal.core.ports import Ledger, StateStore
from quantterminal.core.records import EquitySnapshot
from quantterminal.core.risk import AccountView
from quantterminal.core.state import PositionState
from quantterminal.core.trading import Decision, TradingEngine

MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class BarOutcome:
    """What one bar led to, per strategy."""

    bar: Bar
    traded: bool
    decisions: Mapping[str, Decision]


class TradingDesk:
    """Strategies of one account over one state store; ``view`` gives the account at decision time
    from the bar and the account's stored positions."""

    def __init__(
        self,
        engines: Mapping[str, TradingEngine],
        store: StateStore,
        account: str,
        view: Callable[[Bar, Sequence[PositionState]], AccountView],
        max_bar_age: timedelta = timedelta(seconds=90),
        ledger: Ledger | None = None,
    ) -> None:
        self.engines = dict(engines)
        self.store = store
        self.account = account
        self.view = view
        self.max_bar_age = max_bar_age
        self.ledger = ledger
        self._equity_recorded_at: datetime | None = None

    def fresh(self, update: BarUpdate, now: datetime) -> bool:
        """Whether ``update`` may be traded on at ``now``."""
        if update.source in (BarSource.BACKFILL, BarSource.REVISION, BarSource.DAILY):
            return False
        return now - (update.bar.timestamp + MINUTE) <= self.max_bar_age

    def on_bar(self, update: BarUpdate, now: datetime) -> BarOutcome:
        """Every strategy's decision on one bar."""
        bar = update.bar
        if update.source is BarSource.REVISION:
            # The minute was decided on already; strategies consume each minute once.
            return BarOutcome(bar, False, {})
        traded = self.fresh(update, now)
        names = list(self.engines)
        snapshots = self.store.load_snapshots(names, bar.symbol)
        consumed = {name: self.engines[name].consume(bar, snapshots[name]) for name in names}
        changed = {name: c.snapshot for name, c in consumed.items() if c.snapshot is not None}
        if changed:
            self.store.save_snapshots(bar.symbol, changed)
        acting = traded and any(c.wanted is not None for c in consumed.values())
        held = self.store.positions(self.account) if acting else []
        open_orders = self.store.open_orders(self.account) if acting else []
        view = self.view(bar, held)
        decisions = {
            name: self.engines[name].act(
                bar,
                consumed[name],
                view,
                now,
                traded,
                open_orders,
                sum(p.qty for p in held if p.strategy == name and p.symbol == bar.symbol),
            )
            for name in names
        }
        if traded:
            self._record_equity(view, now)
        return BarOutcome(bar, traded, decisions)

    def cancel_stale(self, now: datetime, symbol: str | None = None) -> list[str]:
        """Every strategy's stale limit orders (in ``symbol``, if given) canceled; one read of the
        open orders for all of them."""
        open_orders = self.store.open_orders(self.account)
        if not open_orders:
            return []
        return [
            coid
            for engine in self.engines.values()
            for coid in engine.cancel_stale(now, symbol=symbol, open_orders=open_orders)
        ]

    def _record_equity(self, view: AccountView, now: datetime) -> None:
        """One equity snapshot per account and minute (the equity curve of the API and the daily
        report); every symbol's bar of that minute writes the same key, so one write suffices."""
        minute = now.replace(second=0, microsecond=0)
        if self.ledger is None or self._equity_recorded_at == minute:
            return
        self.ledger.record_equity(EquitySnapshot(self.account, minute, view.equity, view.cash))
        self._equity_recorded_at = minute

    def on_update(self, update: OrderUpdate) -> list[Fill]:
        """Book a broker update with the strategy that placed the order (unknown orders are left
        to reconciliation)."""
        order = self.store.get_open_order(update.client_order_id)
        if order is None or order.strategy not in self.engines:
            return []
        return self.engines[order.strategy].on_update(update)
