"""A strategy sees its trade: the position's entry time kept by the books, the view built from
the kernel's state (exact P&L at the bar's close, its own working orders only), and a strategy
that did not ask for it cannot read a made-up one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantterminal import Bar, Direction, StrategyError, TradeView
from quantterminal.core.accounting.orders import Order, OrderType, OrderUpdate
from quantterminal.core.accounting.state import PositionState
from quantterminal.core.models import Execution, Side
from quantterminal.core.strategies import Momentum
from quantterminal.core.trading.trade_views import trade_views, working_orders
from quantterminal.examples.trend_with_exits import TrendWithExits
from quantterminal.testing import StandInBook, check_strategy, run

T0 = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


def test_the_entry_time_is_the_fill_that_opened_the_position_and_survives_storage() -> None:
    p = PositionState("acct", "s", "SPY")
    p = p.apply_fill(Side.BUY, 10, Decimal("100"), at(1), "e1")
    assert p.opened_at == at(1)
    p = p.apply_fill(Side.BUY, 5, Decimal("101"), at(2), "e2")  # added to: still opened at the first fill
    assert p.opened_at == at(1)
    p = p.apply_fill(Side.SELL, 12, Decimal("102"), at(3), "e3")  # reduced
    assert (p.qty, p.opened_at) == (3, at(1))
    p = p.apply_fill(Side.SELL, 8, Decimal("103"), at(4), "e4")  # reversed: a new trade, opened now
    assert (p.qty, p.opened_at) == (-5, at(4))
    assert PositionState.from_json(p.to_json(), 1).opened_at == at(4)
    flat = p.apply_fill(Side.BUY, 5, Decimal("99"), at(5), "e5")
    assert (flat.qty, flat.opened_at) == (0, None)


def test_a_position_stored_before_entry_times_were_kept_reads_as_unknown() -> None:
    text = PositionState("acct", "s", "SPY").apply_fill(Side.BUY, 1, Decimal(1), at(0), "e").to_json()
    old = text.replace(f'"opened_at":"{at(0).isoformat()}"', '"opened_at":null').replace(
        f'"opened_at": "{at(0).isoformat()}"', '"opened_at": null'
    )
    assert PositionState.from_json(old, 1).opened_at is None
    assert PositionState.from_json(old, 1).qty == 1


def bar(close: float, minute: int = 10, symbol: str = "SPY") -> Bar:
    return Bar(symbol, at(minute), close, close, close, close, 100)


def order(coid: str, strategy: str, symbol: str = "SPY", minute: int = 0) -> Order:
    return Order(
        coid, strategy, symbol, Side.SELL, 10, OrderType.LIMIT, at(minute), Decimal("101"), Decimal("101.5"),
        account="acct", created_at=at(minute),
    )  # fmt: skip


def test_the_view_marks_the_position_at_the_bars_close_exactly_and_lists_only_its_own_working_orders() -> None:
    p = PositionState("acct", "fast", "SPY").apply_fill(Side.BUY, 10, Decimal("100.10"), at(1), "e1")
    p = p.apply_fill(Side.BUY, 10, Decimal("100.30"), at(2), "e2")
    done = order("c-done", "fast", minute=3).apply(
        OrderUpdate("c-done", "fill", at(4), 10, Execution("x", 10, Decimal("101.5"), at(4), 10))
    )
    orders = [order("c-2", "fast", minute=5), order("c-1", "fast", minute=4), order("c-o", "slow"), done]
    orders.append(order("c-q", "fast", symbol="QQQ"))
    views = trade_views(["fast", "slow"], bar(100.45), {"fast": p}, orders)
    fast = views["fast"]
    assert fast.qty == 20
    assert fast.direction is Direction.LONG
    assert fast.avg_entry_price == Decimal("100.20")
    assert fast.unrealized_pnl == Decimal("5.00")  # 20 x (100.45 - 100.20), not a float's guess
    assert fast.entry_time == at(1)
    assert fast.return_since_entry == pytest.approx(5 / 2004)
    assert [w.placed_at for w in fast.working] == [at(4), at(5)]  # oldest first; not the finished one
    assert views["slow"].is_flat
    assert [w.placed_at for w in views["slow"].working] == [at(0)]
    assert working_orders(orders, "fast", "QQQ")[0].remaining_qty == 10


@given(st.lists(st.tuples(st.sampled_from([Side.BUY, Side.SELL]), st.integers(1, 50), st.integers(9000, 11000))))
def test_the_view_agrees_with_the_fills_whatever_their_sequence(fills: list[tuple[Side, int, int]]) -> None:
    """Entry price and P&L as a FIFO book of the same fills gives them; entry time is the fill
    after which the position was last opened from flat (or reversed)."""
    p = PositionState("acct", "s", "SPY")
    qty, opened = 0, None
    for i, (side, n, cents) in enumerate(fills):
        p = p.apply_fill(side, n, Decimal(cents) / 100, at(i), f"e{i}")
        new = qty + side.sign * n
        if new == 0:
            opened = None
        elif qty == 0 or (qty > 0) != (new > 0):
            opened = at(i)
        qty = new
    view = trade_views(["s"], bar(100.0), {"s": p}, [])["s"]
    assert view.qty == qty
    assert view.entry_time == opened
    if qty:
        assert view.avg_entry_price == p.avg_price
        assert view.unrealized_pnl == qty * (Decimal("100") - p.avg_price)
    assert view.realized_pnl == p.realized_pnl


def test_a_strategy_that_did_not_ask_for_its_trade_cannot_read_one() -> None:
    with pytest.raises(StrategyError, match="uses_trade"):
        _ = Momentum("SPY").trade
    strategy = TrendWithExits("SPY")
    assert strategy.trade == TradeView()  # before its first bar: flat, nothing working


def test_the_shipped_example_passes_every_check_and_exits_where_its_rules_say(spy_2011_rth: list[Bar]) -> None:
    check_strategy(TrendWithExits, bars=spy_2011_rth[:1500])
    book = StandInBook()
    strategy = TrendWithExits("SPY", TrendWithExits.params_type(stop_loss_bps=10, take_profit_bps=15, max_minutes=30))
    answers = []
    by_rule = 0
    for b in spy_2011_rth[:3000]:
        book.fill_at_open(b)
        seen = book.view(b)
        strategy.see(seen)
        answer = strategy.on_bar(b)
        book.wanted = answer
        answers.append(answer)
        if seen.qty and answer is Direction.FLAT:
            change = seen.return_since_entry
            assert change is not None
            assert seen.entry_time is not None
            held = b.timestamp - seen.entry_time
            by_rule += change <= -0.001 or change >= 0.0015 or held >= timedelta(minutes=30)
    assert by_rule >= 10  # the stop, the target and the time limit, measured from the real entry
    assert answers == run(TrendWithExits("SPY", strategy.params), spy_2011_rth[:3000])
