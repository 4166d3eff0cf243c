"""The P&L difference between a run and its backtest, by cause: each cause on a worked example,
and the parts adding up to the difference exactly for any fills (property)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from quantterminal.core.accounting.orders import Order, OrderType
from quantterminal.core.models import Fill, Side
from quantterminal.core.reporting.pnl_attribution import CAUSES, explain

D = Decimal
T0 = datetime(2013, 10, 7, 14, 0, tzinfo=UTC)
MARK = {"SPY": D("170.00")}


def order(coid: str, side: Side, qty: int) -> Order:
    return Order(coid, "momentum", "SPY", side, qty, OrderType.LIMIT, T0, D("168"), D("168.08"))


def fill(coid: str, side: Side, qty: int, price: str, n: int = 0, commission: str = "0") -> Fill:
    return Fill("SPY", T0 + timedelta(minutes=n), side, qty, D(price), D(commission), coid, f"{coid}-x{n}")


def parts_of(**kwargs: object) -> dict[str, Decimal]:
    result = explain("momentum", **kwargs, marks=MARK)  # type: ignore[arg-type]
    assert result.check == 0
    return {k: v for k, v in result.parts.items() if v}


def test_a_worse_fill_price_is_slippage() -> None:
    buy = order("a", Side.BUY, 10)
    parts = parts_of(
        backtest_orders=[buy],
        backtest_fills=[fill("a", Side.BUY, 10, "168.00")],
        run_orders=[buy],
        run_fills=[fill("a", Side.BUY, 10, "168.05")],
        refused_in_backtest=[],
        refused_in_run=[],
    )
    assert parts == {"fill price": D("-0.50")}  # 10 shares bought 5 cents dearer


def test_an_order_the_run_did_not_fill_is_not_filled_valued_at_the_backtest_price() -> None:
    buy = order("a", Side.BUY, 10)
    parts = parts_of(
        backtest_orders=[buy],
        backtest_fills=[fill("a", Side.BUY, 10, "168.00")],
        run_orders=[buy],
        run_fills=[fill("a", Side.BUY, 4, "168.00")],  # a partial fill, the rest canceled
        refused_in_backtest=[],
        refused_in_run=[],
    )
    assert parts == {"not filled": D("-12.00")}  # 6 shares that would have gained 2.00 each


def test_a_refused_order_is_a_risk_refusal_and_an_order_only_one_side_made_is_timing() -> None:
    parts = parts_of(
        backtest_orders=[order("a", Side.BUY, 10), order("b", Side.BUY, 5)],
        backtest_fills=[fill("a", Side.BUY, 10, "168.00"), fill("b", Side.BUY, 5, "169.00")],
        run_orders=[order("c", Side.BUY, 5)],
        run_fills=[fill("c", Side.BUY, 5, "169.50", commission="1.00")],
        refused_in_backtest=[],
        refused_in_run=["a"],
    )
    # a: refused live, 10 × 2.00 lost; b missed and c made instead: 5 × 1.00 lost, 5 × 0.50 gained
    assert parts == {"risk refusals": D("-20.00"), "timing": D("-2.50"), "costs": D("-1.00")}


@given(
    st.lists(
        st.tuples(
            st.integers(0, 6),  # order id
            st.booleans(),  # buy?
            st.integers(0, 50),  # backtest shares
            st.integers(0, 50),  # run shares
            st.integers(16_000, 18_000),  # backtest price, cents
            st.integers(16_000, 18_000),  # run price, cents
            st.integers(0, 3),  # 0: both made it; 1: refused in run; 2: only backtest; 3: only run
        ),
        max_size=12,
    )
)
def test_the_parts_always_add_up_to_the_difference(rows: list[tuple[int, bool, int, int, int, int, int]]) -> None:
    back_orders, run_orders, back_fills, run_fills, refused = [], [], [], [], []
    for i, (oid, buy, qb, qr, pb, pr, kind) in enumerate(rows):
        coid, side = f"o{oid}-{i}", Side.BUY if buy else Side.SELL
        if kind in (0, 1, 2):
            back_orders.append(order(coid, side, max(qb, 1)))
            if qb:
                back_fills.append(fill(coid, side, qb, str(D(pb) / 100), i, str(D(qb) / 100)))
        if kind in (0, 3):
            run_orders.append(order(coid, side, max(qr, 1)))
            if qr:
                run_fills.append(fill(coid, side, qr, str(D(pr) / 100), i))
        if kind == 1:
            refused.append(coid)
    result = explain("momentum", back_orders, back_fills, run_orders, run_fills, [], refused, MARK)
    assert result.check == 0
    assert set(result.parts) == set(CAUSES)
