"""What the engine's speed work must never change: the orders and fills of the shipped strategies
on real data, and the outcome of a decision the risk manager refused (asked again only when
something it depends on changed)."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantterminal.adapters.market_data.csv_bars import SAMPLE_ROOT, load_bars
from quantterminal.core.accounting.orders import Order, OrderType
from quantterminal.core.accounting.state import Reservation, RiskState
from quantterminal.core.models import Direction, Side
from quantterminal.core.risk.manager import AccountView, RiskLimits, evaluate, settle, short_of_buying_power
from quantterminal.core.simulation.backtest import BacktestConfig, BacktestResult
from quantterminal.core.strategies import STRATEGIES
from quantterminal.core.trading import refusals
from quantterminal.core.trading.config import TradingConfig
from quantterminal.core.trading.refusals import Refusal
from quantterminal.wiring.backtest import run_backtest

# Each shipped strategy on the shipped real data (every bar, extended hours included), as the
# kernel traded it before the speed work (commit dcb772a): orders, fills, final equity and a
# digest of every order's id, side, size and limit and every fill's id, time, size, price and fee.
PINNED = {
    ("spy_2011", "momentum"): (636, 636, "100238.02", "ff0a77776e71344e"),
    ("spy_2011", "mean_reversion"): (614, 614, "100475.37", "2d5d591c0ada2091"),
    ("spy_2011", "volatility_breakout"): (504, 504, "99662.29", "b03e509060fc2ec8"),
    ("lean_2013", "momentum"): (287, 285, "100007.00", "c4663c43bde0beb7"),
    ("lean_2013", "mean_reversion"): (271, 269, "100497.26", "252c9775cd74b953"),
    ("lean_2013", "volatility_breakout"): (193, 192, "99733.85", "cea5b02813f2c923"),
}


def digest(result: BacktestResult) -> str:
    text = "\n".join(f"{o.client_order_id} {o.side.value} {o.qty} {o.limit_price}" for o in result.orders)
    text += "\n".join(
        f"{f.execution_id} {f.timestamp.isoformat()} {f.qty} {f.price} {f.commission}" for f in result.fills
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@pytest.mark.parametrize(("data", "strategy"), sorted(PINNED))
def test_the_shipped_strategies_trade_on_real_data_exactly_as_before(data: str, strategy: str) -> None:
    result = run_backtest(BacktestConfig((strategy,)), load_bars(SAMPLE_ROOT / data))
    orders, fills, equity, pinned = PINNED[(data, strategy)]
    assert (len(result.orders), len(result.fills), str(result.final_equity)) == (orders, fills, equity)
    assert digest(result) == pinned


def standing_and_asked_every_bar(
    config: BacktestConfig, bars: dict[str, list], monkeypatch: pytest.MonkeyPatch
) -> tuple[BacktestResult, BacktestResult]:
    """The backtest as it runs, and again with every refusal asked again on every bar: they must
    trade alike (orders, fills, what was not filled, the curve, the final equity)."""
    standing = run_backtest(config, bars)
    monkeypatch.setattr(refusals, "STANDING_RULES", frozenset())
    every_bar = run_backtest(config, bars)
    assert len(standing.orders) > 100
    for field in ("orders", "fills", "not_filled", "equity_curve", "final_equity"):
        assert getattr(standing, field) == getattr(every_bar, field), field
    return standing, every_bar


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_a_standing_refusal_changes_no_order_only_how_often_it_is_asked(
    strategy: str, lean_2013_rth: dict[str, list], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three symbols at 45% of equity each: the third is refused for buying power again and
    again. Not asking again until cash or reservations change gives the same orders and fills."""
    trading = TradingConfig(position_fraction=Decimal("0.45"), risk=RiskLimits(position_limit=Decimal("0.5")))
    standing, every_bar = standing_and_asked_every_bar(
        BacktestConfig((strategy,), trading=trading), lean_2013_rth, monkeypatch
    )
    assert {r.rule for r in every_bar.refused} >= {"buying_power"}
    assert len(standing.refused) <= len(every_bar.refused)


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_a_universe_short_of_buying_power_trades_as_if_asked_every_bar(
    strategy: str, lean_2013_rth: dict[str, list], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thirty symbols (the real three, ten times over) at the default 10% each: most entries are
    refused for buying power, and other symbols' fills release reservations nearly every bar. A
    refusal sized again that still does not fit is not asked (the buying-power rule itself says
    so); the orders, fills and curve are those of asking every bar."""
    universe = {
        f"{symbol}~{copy}": [replace(bar, symbol=f"{symbol}~{copy}") for bar in bars]
        for symbol, bars in lean_2013_rth.items()
        for copy in range(10)
    }
    standing, every_bar = standing_and_asked_every_bar(BacktestConfig((strategy,)), universe, monkeypatch)
    assert sum(r.rule == "buying_power" for r in every_bar.refused) > 3 * len(standing.refused)


NOON = datetime(2013, 10, 7, 16, tzinfo=UTC)
HELD = Reservation("other", "IBM", Side.BUY, 10, Decimal(180))


def refused_under(state: RiskState, rule: str = "buying_power") -> Refusal:
    return Refusal(Direction.LONG, rule, state, datetime(2013, 10, 8, 4, tzinfo=UTC), "still refused")


def test_a_refusal_stands_while_nothing_it_depends_on_changed() -> None:
    state = RiskState("a", reservations=(HELD,))
    refusal = refused_under(state)
    assert refusal.holds(Direction.LONG, state, NOON)
    # another order placed since only takes more buying power
    more = replace(state, reservations=(HELD, Reservation("new", "BAC", Side.BUY, 5, Decimal(15))))
    assert refusal.holds(Direction.LONG, more, NOON)
    # the peak equity moving is no reason to ask again
    assert refusal.holds(Direction.LONG, replace(state, peak_equity=Decimal(100_001)), NOON)


def test_a_refusal_is_asked_again_once_cash_or_halts_may_have_moved_or_the_day_ends() -> None:
    state = RiskState("a", reservations=(HELD,))
    refusal = refused_under(state)
    assert not refusal.holds(Direction.SHORT, state, NOON)  # another decision
    assert not refusal.holds(Direction.LONG, state, datetime(2013, 10, 8, 14, tzinfo=UTC))  # a new day
    assert not refusal.holds(Direction.LONG, settle(state, "other", 4), NOON)  # a fill released some
    assert not refusal.holds(Direction.LONG, settle(state, "other", 0), NOON)  # an order ended
    # a fill of an order placed after the refusal moves cash too, though the old reservations are all there
    placed = replace(state, reservations=(HELD, Reservation("new", "BAC", Side.SELL, 5, Decimal(15))))
    assert not refusal.holds(Direction.LONG, settle(placed, "new", 0), NOON)
    assert not refusal.holds(Direction.LONG, replace(state, entries_halted_on=date(2013, 10, 7)), NOON)
    assert not refusal.holds(Direction.LONG, replace(state, disabled_strategies=("x",)), NOON)
    assert not refusal.holds(Direction.LONG, replace(state, halted_symbols=(("IBM", "T1", "2013-10-07"),)), NOON)
    # any other rule (a position limit: equity matters) stands only on the very same reservations
    limit = refused_under(state, "position_limit")
    more = replace(state, reservations=(HELD, Reservation("new", "BAC", Side.BUY, 5, Decimal(15))))
    assert not limit.holds(Direction.LONG, more, NOON)


def test_the_release_count_survives_a_store_round_trip_and_is_zero_in_an_older_document() -> None:
    state = replace(RiskState("a"), released=7)
    assert RiskState.from_json(state.to_json(), 3).released == 7
    older = state.to_json().replace('"released":7,', "")
    assert "released" not in older
    assert RiskState.from_json(older, 3).released == 0


@settings(max_examples=300, deadline=None)
@given(
    qty=st.integers(1, 400),
    side=st.sampled_from([Side.BUY, Side.SELL]),
    cash=st.integers(-5_000, 60_000),
    position=st.integers(-300, 300),
    reserved=st.lists(
        st.tuples(st.sampled_from(["SPY", "IBM"]), st.sampled_from([Side.BUY, Side.SELL]), st.integers(1, 200)),
        max_size=4,
    ),
)
def test_the_buying_power_check_before_asking_is_the_risk_managers_own_rule(
    qty: int, side: Side, cash: int, position: int, reserved: list[tuple[str, Side, int]]
) -> None:
    """``short_of_buying_power`` (what lets a re-sized order skip the risk check) is true exactly
    when the risk manager would refuse the order by its buying-power rule -- or by a rule before it:
    never for an order the risk manager would accept."""
    price = Decimal("150.25")
    state = RiskState(
        "paper",
        reservations=tuple(Reservation(f"r{i}", s, sd, q, price) for i, (s, sd, q) in enumerate(reserved)),
    )
    order = Order("o-1", "momentum", "SPY", side, qty, OrderType.LIMIT, NOON, price, price, account="paper")
    account = AccountView(Decimal(100_000), Decimal(cash), {"SPY": position}, {"SPY": price})
    limits = RiskLimits(position_limit=Decimal(1), max_order_notional=Decimal(10**9), drawdown=Decimal(1))
    decision = evaluate(order, account, state, limits, NOON)
    short = short_of_buying_power(order, Decimal(cash), position, state)
    if short:
        assert not decision.accepted
    if decision.rule == "buying_power":
        assert short
