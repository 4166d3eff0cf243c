"""The pre-trade risk manager: pure rules, the same in backtest, paper and live.

``evaluate`` takes an order, a view of the account and the stored ``RiskState`` and returns
a decision *and* the next risk state (day rollover, peak equity, halts, and -- for an accepted
order -- its reservation). Run inside a compare-and-set update of the risk state, concurrent
signals cannot overspend: whichever writes second is re-evaluated against the first's reservation.

Rules, in order (the first that fails rejects, with its reason):
1. Halted (manual kill switch, or the drawdown circuit breaker at ``drawdown`` below peak
   equity): every order is refused until ``resume``.
2. Daily loss (``daily_loss`` below the day's opening equity): new entries are refused for
   the rest of the New York day; orders that only reduce a position still pass.
3. Strategy disabled (by an operator): its new entries are refused; its exits still pass.
   Symbol halted by its exchange (a trading halt or a LULD volatility pause, from the feed's
   trading status messages): no order at all for that symbol until trading resumes.
4. Symbol allow-list.
5. Regular trading hours (NYSE calendar, early closes included): the order belongs to a minute of
   the regular session (``session_time``, the minute bar it was decided on; the last
   minute's order is placed at the close and works from the next open), else ``now`` is in it.
6. Price band: the order price within ``price_band_bps`` of the last price (fat-finger guard).
7. Maximum order notional.
8. Position limit (entries): the worst exposure the symbol can reach -- position + this order +
   the pending orders on the side that grows it (a pending exit makes no room until it fills: it
   may be canceled or refused) -- times the price, within ``position_limit`` of equity.
9. Buying power (entries): the order's notional within cash less what pending entries reserve.
10. A bracket's worst case (entries with a stop-loss leg): the loss if its stop fills at the stop
   price, ``qty × |price − stop|``, must leave equity above the day's loss line (``daily_loss``
   below the opening). It is the planned worst case: a gap through the stop can lose more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

from quantterminal.core.accounting.orders import Order
from quantterminal.core.accounting.state import Reservation, RiskState
from quantterminal.core.market_data.calendar import is_market_open
from quantterminal.core.market_data.sessions import session_date
from quantterminal.core.money import ZERO

_BPS = Decimal(10_000)
BREAKER_REASON = "drawdown circuit breaker"


@dataclass(frozen=True)
class RiskLimits:
    """The account's limits: the configuration's ``[risk]`` section, under the same names, with
    the one declaration of each default (the configuration model and the shipped file take theirs
    from here).

    - ``position_limit``: one symbol's exposure, every instance together, as a fraction of equity.
    - ``max_order_notional``: dollars per order.
    - ``price_band_bps``: how far an order's price may lie from the last price.
    - ``daily_loss``: a fall of this fraction below the day's opening equity halts new entries for
      the rest of the day.
    - ``drawdown``: a fall of this fraction below peak equity trips the circuit breaker (every
      order refused until an operator resumes).
    - ``regular_hours_only``: orders only for minutes of the regular session.
    - ``allowed_symbols``: the only symbols orders may be for (``None``: any).
    """

    position_limit: Decimal = Decimal("0.10")
    max_order_notional: Decimal = Decimal(100_000)
    price_band_bps: Decimal = Decimal(300)
    daily_loss: Decimal = Decimal("0.05")
    drawdown: Decimal = Decimal("0.15")
    regular_hours_only: bool = True
    allowed_symbols: frozenset[str] | None = None


@dataclass(frozen=True)
class AccountView:
    """What the risk manager knows of the account at decision time (positions are signed shares)."""

    equity: Decimal
    cash: Decimal
    positions: Mapping[str, int]
    last_prices: Mapping[str, Decimal]


@dataclass(frozen=True)
class RiskDecision:
    """Accepted or not, by which rule and why, the risk state to store, and alerts to raise."""

    accepted: bool
    rule: str
    reason: str
    state: RiskState
    alerts: tuple[str, ...] = ()


def _price(order: Order) -> Decimal | None:
    """The price an order is checked at: its limit, else its stop (where a stop order becomes a
    market order), else its decision price."""
    return order.limit_price or order.stop_price or order.decision_price


def _buying_power(order: Order, cash: Decimal, state: RiskState) -> tuple[Decimal, Decimal]:
    """What the pending orders (other than ``order``) hold back, and the buying power left."""
    reserved = sum((r.notional for r in state.reservations if r.client_order_id != order.client_order_id), ZERO)
    return reserved, cash - reserved


def short_of_buying_power(order: Order, cash: Decimal, position: int, state: RiskState) -> bool:
    """Whether ``order`` fails the buying-power rule as ``evaluate`` applies it, with ``position``
    the account's shares in its symbol: an order that fails it is refused whatever the other rules
    say (an order that only reduces a position never fails it)."""
    price = _price(order)
    if price is None or order.qty <= 0:
        return False
    pending = sum(r.qty * r.side.sign for r in state.reservations if r.symbol == order.symbol)
    if _reduces_only(order, position, pending):
        return False
    return order.qty * price > _buying_power(order, cash, state)[1]


def _reduces_only(order: Order, position: int, pending: int) -> bool:
    """True when the order, on top of pending orders, only moves the position toward zero."""
    signed = order.qty * order.side.sign
    start = position + pending
    return signed * start < 0 and abs(signed) <= abs(start)


def _roll(state: RiskState, account: AccountView, now: datetime) -> RiskState:
    """Start a new New York day if needed and track the peak equity."""
    today = session_date(now)
    if state.day != today:
        # a halt whose resume never came (lost in a reconnect or a redeploy) ends with its session
        halts = tuple(h for h in state.halted_symbols if h[2] == today.isoformat())
        state = replace(state, day=today, opening_equity=account.equity, entries_halted_on=None, halted_symbols=halts)
    if state.peak_equity is not None and state.peak_equity >= account.equity:
        return state  # the usual order: same day, no new peak -- nothing to copy
    return replace(state, peak_equity=account.equity)


def _trip(state: RiskState, account: AccountView, limits: RiskLimits, now: datetime) -> tuple[RiskState, list[str]]:
    """Trip the drawdown breaker and the daily-loss halt (each alerts once, when it trips)."""
    alerts: list[str] = []
    peak = state.peak_equity or account.equity
    if not state.halted and account.equity <= peak * (1 - limits.drawdown):
        drop = (1 - account.equity / peak) * 100
        reason = f"{BREAKER_REASON}: equity {account.equity:.2f} is {drop:.1f}% below peak {peak:.2f}"
        state = replace(state, halted=True, halt_reason=reason, halted_at=now)
        alerts.append(reason)
    opening = state.opening_equity or account.equity
    if state.entries_halted_on != state.day and account.equity <= opening * (1 - limits.daily_loss):
        state = replace(state, entries_halted_on=state.day)
        alerts.append(
            f"daily loss limit: equity {account.equity:.2f} is {(1 - account.equity / opening) * 100:.1f}% below "
            f"the day's opening {opening:.2f}; new entries halted for the day"
        )
    return state, alerts


def evaluate(
    order: Order,
    account: AccountView,
    state: RiskState,
    limits: RiskLimits,
    now: datetime,
    session_time: datetime | None = None,
) -> RiskDecision:
    """Decide on ``order`` (at its limit, else its stop, else its decision price); see the module docs.
    ``session_time``: the minute whose session the order belongs to (``None``: ``now``'s)."""
    state, alerts = _trip(_roll(state, account, now), account, limits, now)

    def reject(rule: str, reason: str) -> RiskDecision:
        return RiskDecision(False, rule, reason, state, tuple(alerts))

    price = _price(order)
    if order.qty <= 0 or price is None or price <= 0 or not price.is_finite():
        return reject("order", f"order needs a positive quantity and price, got {order.qty} @ {price}")
    if any(r.client_order_id == order.client_order_id for r in state.reservations):
        return reject("duplicate", f"order {order.client_order_id} has already passed risk")
    if state.halted:
        return reject("halted", f"trading is halted: {state.halt_reason}")
    position = account.positions.get(order.symbol, 0)
    pending = sum(r.qty * r.side.sign for r in state.reservations if r.symbol == order.symbol)
    reducing = _reduces_only(order, position, pending)
    if state.entries_halted_on == state.day and not reducing:
        return reject("daily_loss", "daily loss limit reached: only orders that reduce a position are allowed today")
    if order.strategy in state.disabled_strategies and not reducing:
        return reject("strategy_disabled", f"strategy {order.strategy} is disabled: only exits are allowed")
    halted_symbol = next((why for symbol, why, _ in state.halted_symbols if symbol == order.symbol), None)
    if halted_symbol is not None and not reducing:  # an exit waits at the broker, not behind our record
        return reject("symbol_halted", f"trading in {order.symbol} is halted by its exchange: {halted_symbol}")
    if limits.allowed_symbols is not None and order.symbol not in limits.allowed_symbols:
        return reject("allow_list", f"{order.symbol} is not on the symbol allow-list")
    minute = now if session_time is None else session_time
    if limits.regular_hours_only and not is_market_open(minute):  # the kernel asks the same calendar
        return reject("market_hours", f"outside regular trading hours at {minute.isoformat()}")
    last = account.last_prices.get(order.symbol)
    if last is None or last <= 0:
        return reject("price_band", f"no last price for {order.symbol} to check the order price against")
    band = abs(price - last) / last * _BPS
    if band > limits.price_band_bps:
        return reject(
            "price_band",
            f"price {price} is {band:.0f} bps from the last price {last} (limit {limits.price_band_bps} bps)",
        )
    notional = order.qty * price
    if notional > limits.max_order_notional:
        return reject("max_notional", f"order notional {notional:.2f} exceeds {limits.max_order_notional:.2f}")
    if not reducing:
        # Worst case over which pending orders fill: all the buys, or all the sells, or none.
        base = position + order.qty * order.side.sign
        buys = sum(r.qty for r in state.reservations if r.symbol == order.symbol and r.side.sign > 0)
        sells = sum(r.qty for r in state.reservations if r.symbol == order.symbol and r.side.sign < 0)
        projected = max(abs(base + buys), abs(base - sells), abs(base)) * price
        limit = limits.position_limit * account.equity
        if projected > limit:
            return reject(
                "position_limit",
                f"{order.symbol} exposure {projected:.2f} incl. pending orders would "
                f"exceed {limits.position_limit:%} of equity ({limit:.2f})",
            )
        reserved, available = _buying_power(order, account.cash, state)
        if notional > available:
            return reject(
                "buying_power",
                f"order notional {notional:.2f} exceeds buying power {available:.2f} "
                f"(cash {account.cash:.2f} less {reserved:.2f} reserved by pending orders)",
            )
        if order.stop_loss is not None:
            at_risk = order.qty * abs(price - order.stop_loss)
            line = (state.opening_equity or account.equity) * (1 - limits.daily_loss)
            if account.equity - at_risk <= line:
                return reject(
                    "daily_loss",
                    f"its stop-loss at {order.stop_loss} would lose {at_risk:.2f}, taking equity "
                    f"{account.equity:.2f} to the day's loss line ({line:.2f}) or below",
                )
    reservation = Reservation(order.client_order_id, order.symbol, order.side, order.qty, price)
    state = replace(state, reservations=(*state.reservations, reservation))
    return RiskDecision(True, "accepted", "passed every rule", state, tuple(alerts))


def settle(state: RiskState, client_order_id: str, remaining_qty: int) -> RiskState:
    """Shrink an order's reservation to what is still unfilled; drop it at zero (order done).
    Returns ``state`` itself when nothing changes."""
    kept = []
    changed = False
    for r in state.reservations:
        if r.client_order_id != client_order_id or remaining_qty >= r.qty:
            kept.append(r)
        else:
            changed = True
            if remaining_qty > 0:
                kept.append(replace(r, qty=remaining_qty))
    # Unchanged: the same object back, so the store need not write it.
    return replace(state, reservations=tuple(kept), released=state.released + 1) if changed else state


def halt(state: RiskState, reason: str, now: datetime) -> RiskState:
    """The manual kill switch: refuse every order from the next decision on."""
    if not reason.strip():
        raise ValueError("a halt needs a reason")
    return replace(state, halted=True, halt_reason=reason.strip(), halted_at=now)


def set_strategy_enabled(state: RiskState, strategy: str, enabled: bool) -> RiskState:
    """Enable or disable one strategy's new entries (idempotent)."""
    if not strategy.strip():
        raise ValueError("a strategy name is needed")
    names = set(state.disabled_strategies)
    if enabled:
        names.discard(strategy)
    else:
        names.add(strategy)
    return replace(state, disabled_strategies=tuple(sorted(names)))


def set_symbol_halted(
    state: RiskState, symbol: str, halted: bool, reason: str = "", on: date | None = None
) -> RiskState:
    """Mark ``symbol`` halted by its exchange (with why, in the session of ``on``) or trading
    again (idempotent: a repeated halt keeps its first reason and date)."""
    halts = {h[0]: h for h in state.halted_symbols}
    if halted:
        halts.setdefault(symbol, (symbol, reason or "trading halt", "" if on is None else on.isoformat()))
    else:
        halts.pop(symbol, None)
    return replace(state, halted_symbols=tuple(sorted(halts.values())))


def resume(state: RiskState) -> RiskState:
    """Lift a manual halt or a tripped breaker (the daily-loss halt ends with the day).

    Resuming after the drawdown breaker re-bases the peak at the next decision's equity: the
    operator has accepted the drawdown, and the old peak would trip the breaker again at once.
    """
    peak = None if state.halt_reason.startswith(BREAKER_REASON) else state.peak_equity
    return replace(state, halted=False, halt_reason="", halted_at=None, peak_equity=peak)
