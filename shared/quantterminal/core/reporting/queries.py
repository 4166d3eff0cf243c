"""What the HTTP API and the dashboard show, read from the state store and the ledger.

Every method returns JSON-ready data: money as exact decimal strings, times as ISO 8601 UTC.
Operator actions (halt, resume, enable/disable a strategy) go through the risk gate, so they are
atomic with the risk state every order is checked against, and recorded as risk events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from quantterminal.core.accounting.orders import Order, OrderType, OrderUpdate
from quantterminal.core.accounting.portfolio import Position
from quantterminal.core.accounting.ports import StateStore
from quantterminal.core.market_data.calendar import is_market_open
from quantterminal.core.market_data.sessions import day_bounds, session_date
from quantterminal.core.models import Side
from quantterminal.core.money import ZERO, to_decimal
from quantterminal.core.reporting.ports import Ledger
from quantterminal.core.reporting.post_trade import account_curve, fill_row, strategy_results
from quantterminal.core.risk.gate import RiskGate


class UnknownStrategy(LookupError):  # noqa: N818 - the client's situation, not a programming error
    """An operator named a strategy this account does not run (the API answers 404)."""


class UnknownSymbol(LookupError):  # noqa: N818 - the client's situation, not a programming error
    """An action named a symbol that is not halted."""


class ActionRefused(ValueError):  # noqa: N818
    """An operator action that cannot be done as asked (the API answers 422 with the reason)."""


# Where the bar handler leaves its heartbeat (a state-store snapshot under a reserved name).
PIPELINE = "_pipeline"
HEALTH = "health"
FEED_STALE_AFTER = timedelta(minutes=2)


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _order(order: Order) -> dict[str, Any]:
    return {
        "client_order_id": order.client_order_id,
        "strategy": order.strategy,
        "symbol": order.symbol,
        "side": order.side.value,
        "qty": order.qty,
        "filled_qty": order.filled_qty,
        "order_type": order.order_type.value,
        "limit_price": _money(order.limit_price),
        "stop_price": _money(order.stop_price),
        "time_in_force": order.time_in_force.value,
        "decision_price": _money(order.decision_price),
        "decision_time": _time(order.decision_time),
        "status": order.status.value,
        "broker_order_id": order.broker_order_id,
        "created_at": _time(order.created_at),
        "updated_at": _time(order.updated_at),
    }


@dataclass
class AccountQueries:
    """Read models and operator actions of one account."""

    account: str
    strategies: Sequence[str]
    store: StateStore
    ledger: Ledger
    gate: RiskGate
    mode: str = "simulated"  # simulated, paper or live (the configuration's ``[broker] kind``)
    timeframes: Mapping[str, str] = field(default_factory=dict)  # by instance: the bar size it decides on

    # --- reads ------------------------------------------------------------------------------------

    def _last_price(self, symbol: str) -> tuple[Decimal | None, datetime | None]:
        bars = self.ledger.last_bars(symbol, 1)
        return (to_decimal(bars[0].close), bars[0].timestamp) if bars else (None, None)

    def _marked(self, cash: Decimal) -> Decimal | None:
        """The account's equity now: ``cash`` (the last snapshot's) and every position at its
        symbol's latest stored close. (A snapshot is written on the first bar of its minute, so it
        holds the other symbols at the minute before.) ``None`` if a held symbol has no close."""
        held: dict[str, int] = {}
        for p in self.store.positions(self.account):
            if p.qty:
                held[p.symbol] = held.get(p.symbol, 0) + p.qty
        equity = cash
        for symbol, qty in held.items():
            last, _ = self._last_price(symbol)
            if last is None:
                return None
            equity += qty * last
        return equity

    def positions(self, include_flat: bool = False) -> dict[str, Any]:
        """Positions per strategy and symbol, marked at the last stored bar's close."""
        rows = []
        unrealized_total = realized_total = ZERO
        for p in self.store.positions(self.account):
            if p.qty == 0 and not include_flat:
                continue
            last, at = self._last_price(p.symbol)
            unrealized = None
            if last is not None and p.qty:
                unrealized = Position.from_lots(p.symbol, p.lots, p.realized_pnl).unrealized_pnl(last)
                unrealized_total += unrealized
            realized_total += p.realized_pnl
            rows.append(
                {
                    "strategy": p.strategy,
                    "symbol": p.symbol,
                    "qty": p.qty,
                    "avg_price": _money(p.avg_price),
                    "last_price": _money(last),
                    "last_price_at": _time(at),
                    "unrealized_pnl": _money(unrealized),
                    "realized_pnl": _money(p.realized_pnl),
                    "updated_at": _time(p.updated_at),
                }
            )
        return {
            "account": self.account,
            "positions": rows,
            "unrealized_pnl": str(unrealized_total),
            "realized_pnl": str(realized_total),
        }

    def orders(
        self, day: date, status: str = "all", strategy: str | None = None, symbol: str | None = None
    ) -> dict[str, Any]:
        """Orders decided on New York date ``day`` (``status=all``) or every working order
        (``status=open``), optionally of one strategy and/or symbol, newest first."""
        working = {o.client_order_id: o for o in self.store.open_orders(self.account)}
        if status == "open":
            rows = [_order(o) for o in working.values()]
        else:
            rows = []
            decided = self.ledger.orders_on(day)
            events_of = self.ledger.events_of_orders([o.client_order_id for o in decided])
            for o in decided:
                events = events_of.get(o.client_order_id, [])
                last = max(events, key=lambda e: e.cum_filled_qty, default=None)  # events may come out of order
                live = working.get(o.client_order_id)
                rows.append(
                    {
                        "client_order_id": o.client_order_id,
                        "strategy": o.strategy,
                        "symbol": o.symbol,
                        "side": o.side.value,
                        "qty": o.qty,
                        "filled_qty": live.filled_qty if live else (last.cum_filled_qty if last else 0),
                        "order_type": o.order_type.value,
                        "limit_price": _money(o.limit_price),
                        "stop_price": _money(o.stop_price),
                        "time_in_force": o.time_in_force.value,
                        "decision_price": str(o.decision_price),
                        "decision_time": _time(o.decision_time),
                        "status": live.status.value if live else status_from_events(events, o.qty),
                        "avg_fill_price": _money(last.filled_avg_price if last else None),
                    }
                )
        rows = [r for r in rows if (strategy is None or r["strategy"] == strategy)]
        rows = [r for r in rows if (symbol is None or r["symbol"] == symbol)]
        rows.sort(key=lambda r: str(r.get("decision_time") or r.get("created_at") or ""), reverse=True)
        return {"day": day.isoformat(), "status": status, "orders": rows}

    def fills(self, day: date, strategy: str | None = None, symbol: str | None = None) -> dict[str, Any]:
        """Fills executed on New York date ``day``, newest first."""
        strategy_of = {o.client_order_id: o.strategy for o in self.ledger.orders_between(*self._lookback(day, 7))}
        rows = [{**fill_row(f), "strategy": strategy_of.get(f.order_id)} for f in reversed(self.ledger.fills_on(day))]
        rows = [r for r in rows if (strategy is None or r["strategy"] == strategy)]
        rows = [r for r in rows if (symbol is None or r["symbol"] == symbol)]
        return {"day": day.isoformat(), "fills": rows}

    @staticmethod
    def _lookback(day: date, days: int) -> tuple[datetime, datetime]:
        return day_bounds(day - timedelta(days=days))[0], day_bounds(day)[1]

    def pnl(self, start: datetime, end: datetime) -> dict[str, Any]:
        """The equity curve in ``[start, end)`` with its Sharpe and drawdown."""
        curve = self.ledger.equity_curve(self.account, start, end)
        summary = account_curve(curve)
        equity = summary.end_equity if not curve else self._marked(curve[-1].cash) or summary.end_equity
        return {
            "account": self.account,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "start_equity": _money(summary.start_equity),
            "equity": _money(equity),
            "pnl": None if summary.start_equity is None or equity is None else str(equity - summary.start_equity),
            "sharpe": summary.sharpe,
            "max_drawdown": summary.max_drawdown,
            "curve": [{"time": s.timestamp.isoformat(), "equity": str(s.equity), "cash": str(s.cash)} for s in curve],
        }

    def strategy_metrics(self, start: datetime, end: datetime) -> dict[str, Any]:
        """Each configured strategy: enabled or not, and its results in ``[start, end)``."""
        disabled = set(self.store.get_risk_state(self.account).disabled_strategies)
        curve = self.ledger.equity_curve(self.account, start, end)
        base = curve[0].equity if curve else ZERO
        results = strategy_results(
            self.ledger.orders_between(start, end), self.ledger.fills_between(start, end), base, self.strategies
        )
        return {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "strategies": [
                {
                    **r.as_dict(),
                    "configured": name in self.strategies,
                    "enabled": name not in disabled,
                    "timeframe": self.timeframes.get(name),
                }
                for name, r in results.items()
            ],
        }

    def risk(self) -> dict[str, Any]:
        """The account's risk state and limits."""
        s = self.store.get_risk_state(self.account)
        limits = self.gate.limits
        return {
            "account": self.account,
            "trading_mode": self.mode,
            "halted": s.halted,
            "halt_reason": s.halt_reason or None,
            "halted_at": _time(s.halted_at),
            "day": None if s.day is None else s.day.isoformat(),
            "opening_equity": _money(s.opening_equity),
            "peak_equity": _money(s.peak_equity),
            "entries_halted_today": s.entries_halted_on is not None and s.entries_halted_on == s.day,
            "disabled_strategies": list(s.disabled_strategies),
            "halted_symbols": {symbol: why for symbol, why, _ in s.halted_symbols},  # exchange halts: symbol -> why
            "reservations": [
                {"client_order_id": r.client_order_id, "symbol": r.symbol, "side": r.side.value, "qty": r.qty}
                for r in s.reservations
            ],
            "limits": {
                "position_limit": str(limits.position_limit),
                "max_order_notional": str(limits.max_order_notional),
                "price_band_bps": str(limits.price_band_bps),
                "daily_loss": str(limits.daily_loss),
                "drawdown": str(limits.drawdown),
                "regular_hours_only": limits.regular_hours_only,
            },
        }

    def health(self, symbols: Sequence[str], now: datetime) -> dict[str, Any]:
        """Feed and pipeline health: the last bar per symbol, feed lag, the bar handler's heartbeat.
        ``ok`` is false when the market is open and no bar came for two minutes."""
        last_bars = {}
        newest: datetime | None = None
        for symbol in symbols:
            bars = self.ledger.last_bars(symbol, 1)
            at = bars[0].timestamp if bars else None
            last_bars[symbol] = _time(at)
            if at is not None and (newest is None or at > newest):
                newest = at
        beat = self.store.load_snapshot(PIPELINE, HEALTH) or {}
        lag = None if newest is None else (now - (newest + timedelta(minutes=1))).total_seconds()
        market_open = is_market_open(now)
        stale = market_open and (lag is None or lag > FEED_STALE_AFTER.total_seconds())
        return {
            "ok": not stale,
            "now": now.isoformat(),
            "market_open": market_open,
            "session_date": session_date(now).isoformat(),
            "feed_lag_seconds": lag,
            "last_bar": _time(newest),
            "last_bars": last_bars,
            "bar_handler": {
                "last_bar": beat.get("last_bar"),
                "processed_at": beat.get("processed_at"),
                "iterator_age_ms": beat.get("iterator_age_ms"),
            },
            "halted": self.store.get_risk_state(self.account).halted,
        }

    # --- operator actions -------------------------------------------------------------------------

    def halt(self, reason: str, now: datetime) -> dict[str, Any]:
        """The kill switch: no order passes from the next decision on."""
        if not reason.strip():
            raise ActionRefused("a halt needs a reason")
        self.gate.halt(reason, now)
        return self.risk()

    def resume(self, reason: str, now: datetime) -> dict[str, Any]:
        """Lift a halt or a tripped breaker."""
        self.gate.resume(reason, now)
        return self.risk()

    def clear_symbol_halt(self, symbol: str, reason: str, now: datetime) -> dict[str, Any]:
        """An operator lifts the recorded exchange halt of ``symbol`` (its resume was missed);
        ``UnknownSymbol`` if it is not halted."""
        if not any(h[0] == symbol for h in self.store.get_risk_state(self.account).halted_symbols):
            raise UnknownSymbol(symbol)
        if not reason.strip():
            raise ActionRefused("a reason is needed")
        self.gate.set_symbol_halted(symbol, False, f"cleared by an operator: {reason}", now)
        return self.risk()

    def set_strategy_enabled(self, strategy: str, enabled: bool, reason: str, now: datetime) -> dict[str, Any]:
        """Enable or disable a configured strategy's new entries (``UnknownStrategy`` if unknown)."""
        if strategy not in self.strategies:
            raise UnknownStrategy(strategy)
        if not reason.strip():
            raise ActionRefused("a reason is needed")
        self.gate.set_strategy_enabled(strategy, enabled, reason, now)
        return self.risk()


def status_from_events(events: Sequence[OrderUpdate], qty: int) -> str:
    """A finished order's status (``OrderStatus`` value) from its recorded broker events, in any
    order: the order state machine's own verdict on those facts."""
    facts = Order(events[0].client_order_id if events else "", "", "", Side.BUY, qty, OrderType.MARKET)
    for event in events:
        facts = facts.apply(event)
    return facts.status.value


def heartbeat(last_bar: datetime, processed_at: datetime, arrived_at: datetime | None) -> dict[str, Any]:
    """The bar handler's heartbeat document (see ``AccountQueries.health``)."""
    age = None if arrived_at is None else max(0.0, (processed_at - arrived_at).total_seconds() * 1000)
    return {"last_bar": last_bar.isoformat(), "processed_at": processed_at.isoformat(), "iterator_age_ms": age}
