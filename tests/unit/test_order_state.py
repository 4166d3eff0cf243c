"""Order updates arriving late, twice and out of order: the final order state, position, average
cost and cash are the same for every arrival order and any duplication (hypothesis)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantterminal.core.accounting.account_book import AccountBook
from quantterminal.core.accounting.orders import Order, OrderStatus, OrderType, OrderUpdate, OrderUpdateError
from quantterminal.core.models import Execution, Side

D = Decimal
T0 = datetime(2025, 7, 15, 14, 1, tzinfo=UTC)


def lifecycle(coid: str, qty: int, fills: list[tuple[int, int]], end: str, start: datetime) -> list[OrderUpdate]:
    """The updates of one order in the order the broker sent them: new, fills (qty, price in cents)
    with cumulative quantities, then a terminal event."""
    updates = [OrderUpdate(coid, "pending_new", start), OrderUpdate(coid, "new", start + timedelta(milliseconds=1))]
    cum = 0
    for i, (fill_qty, cents) in enumerate(fills):
        cum += fill_qty
        when = start + timedelta(milliseconds=10 * (i + 1))
        event = "fill" if cum == qty else "partial_fill"
        updates.append(
            OrderUpdate(
                coid,
                event,
                when,
                cum,
                Execution(f"{coid}-x{i}", fill_qty, D(cents) / 100, when),
                broker_order_id=f"b-{coid}",
            )
        )
    if cum < qty and end != "open":
        when = start + timedelta(seconds=30)
        if end == "canceled":
            updates.append(OrderUpdate(coid, "pending_cancel", when - timedelta(milliseconds=5), cum))
        updates.append(OrderUpdate(coid, end, when, cum))
    return updates


@st.composite
def order_streams(draw: st.DrawFn) -> tuple[list[tuple[str, Side, int]], list[OrderUpdate]]:
    orders, updates = [], []
    for n in range(draw(st.integers(1, 4))):
        coid = f"o{n}"
        side = draw(st.sampled_from([Side.BUY, Side.SELL]))
        qty = draw(st.integers(1, 300))
        fills: list[tuple[int, int]] = []
        left = qty
        for _ in range(draw(st.integers(0, 4))):
            if left == 0:
                break
            take = draw(st.integers(1, left))
            fills.append((take, draw(st.integers(9_000, 11_000))))
            left -= take
        end = draw(st.sampled_from(["canceled", "expired", "open"])) if left else "filled"
        orders.append((coid, side, qty))
        updates += lifecycle(coid, qty, fills, end, T0 + timedelta(seconds=n))
    return orders, updates


def replay(orders: list[tuple[str, Side, int]], updates: list[OrderUpdate]) -> AccountBook:
    book = AccountBook(D("100000"))
    for coid, side, qty in orders:
        book.track(coid, "SPY", side, qty)
    book.apply_all(updates)
    return book


def summary(book: AccountBook) -> tuple[object, ...]:
    pos = book.portfolio.position("SPY")
    return (
        {c: (o.status, o.filled_qty, o.avg_fill_price, o.executions) for c, o in book.orders.items()},
        pos.qty,
        pos.avg_price,
        pos.lots(),
        pos.realized_pnl,
        book.portfolio.cash,
    )


@given(order_streams(), st.data())
def test_final_state_is_the_same_for_every_arrival_order_and_duplication(
    stream: tuple[list[tuple[str, Side, int]], list[OrderUpdate]], data: st.DataObject
) -> None:
    orders, updates = stream
    in_order = summary(replay(orders, updates))
    shuffled = data.draw(st.permutations(updates), label="arrival order")
    repeats = data.draw(st.lists(st.sampled_from(updates), max_size=len(updates)), label="duplicates")
    positions = data.draw(st.lists(st.integers(0, len(shuffled)), min_size=len(repeats), max_size=len(repeats)))
    arrived = list(shuffled)
    for update, at in zip(repeats, positions, strict=True):
        arrived.insert(at, update)
    assert summary(replay(orders, arrived)) == in_order


@given(order_streams())
def test_cash_and_position_equal_the_sum_of_executions(
    stream: tuple[list[tuple[str, Side, int]], list[OrderUpdate]],
) -> None:
    orders, updates = stream
    book = replay(orders, updates)
    sides = {coid: side for coid, side, _ in orders}
    executions = [(u.client_order_id, u.execution) for u in updates if u.execution is not None]
    assert book.portfolio.position("SPY").qty == sum(sides[c].sign * e.qty for c, e in executions)
    assert book.portfolio.cash == D("100000") - sum((sides[c].sign * e.qty * e.price for c, e in executions), D(0))


def test_alpaca_partial_then_final_fill_uses_execution_prices() -> None:
    """The fixture's order: 40 @ 624.48 then 60 @ 624.49; cumulative avg 624.486."""
    book = AccountBook(D("100000"))
    book.track("A", "SPY", Side.BUY, 100)
    final = OrderUpdate(
        "A", "fill", T0 + timedelta(seconds=3), 100, Execution("x2", 60, D("624.49"), T0 + timedelta(seconds=3))
    )
    partial = OrderUpdate(
        "A", "partial_fill", T0 + timedelta(seconds=2), 40, Execution("x1", 40, D("624.48"), T0 + timedelta(seconds=2))
    )
    book.apply(final)  # the final fill arrives first
    assert book.orders["A"].status is OrderStatus.FILLED
    assert book.orders["A"].unexplained_qty == 40
    book.apply(partial)
    assert book.apply(partial) == []  # redelivered: nothing new
    order = book.orders["A"]
    assert (order.status, order.filled_qty, order.avg_fill_price, order.unexplained_qty) == (
        OrderStatus.FILLED,
        100,
        D("624.486"),
        0,
    )
    assert book.portfolio.position("SPY").avg_price == D("624.486")
    assert book.portfolio.cash == D("100000") - D("62448.60")


def test_terminal_states_absorb_late_updates() -> None:
    state = Order("B", "s", "SPY", Side.BUY, 10, OrderType.MARKET)
    state = state.apply(OrderUpdate("B", "canceled", T0))
    for late in ("new", "accepted", "pending_cancel", "order_cancel_rejected"):
        state = state.apply(OrderUpdate("B", late, T0 - timedelta(seconds=1)))
    assert state.status is OrderStatus.CANCELED
    assert state.remaining_qty == 0


def test_cancel_rejected_after_pending_cancel_returns_the_order_to_live() -> None:
    state = Order("B", "s", "SPY", Side.BUY, 10, OrderType.MARKET).apply(OrderUpdate("B", "new", T0))
    pending = OrderUpdate("B", "pending_cancel", T0 + timedelta(seconds=1))
    rejected = OrderUpdate("B", "order_cancel_rejected", T0 + timedelta(seconds=2))
    assert state.apply(pending).status is OrderStatus.PENDING_CANCEL
    assert state.apply(rejected).apply(pending).status is OrderStatus.ACCEPTED
    assert state.apply(pending).apply(rejected).status is OrderStatus.ACCEPTED


@pytest.mark.parametrize(
    ("update", "message"),
    [
        (OrderUpdate("C", "teleported", T0), "unknown order event"),
        (OrderUpdate("C", "partial_fill", T0, 11), "outside 0..10"),
        (OrderUpdate("D", "new", T0), "applied to 'C'"),
        (OrderUpdate("C", "partial_fill", T0, 5, Execution("x", 11, D(1), T0)), "exceed the order quantity"),
    ],
)
def test_impossible_updates_are_refused_and_change_nothing(update: OrderUpdate, message: str) -> None:
    book = AccountBook(D("1000"))
    book.track("C", "SPY", Side.BUY, 10)
    apply = book.orders["C"].apply if update.client_order_id == "D" else book.apply
    with pytest.raises(OrderUpdateError, match=message):
        apply(update)
    assert book.orders["C"] == Order("C", "", "SPY", Side.BUY, 10, OrderType.MARKET)
    assert book.portfolio.cash == D("1000")


def test_one_execution_reported_twice_with_different_terms_is_refused() -> None:
    state = Order("C", "s", "SPY", Side.BUY, 10, OrderType.MARKET).apply(
        OrderUpdate("C", "partial_fill", T0, 5, Execution("x", 5, D(1), T0))
    )
    with pytest.raises(OrderUpdateError, match="reported twice, differently"):
        state.apply(OrderUpdate("C", "partial_fill", T0, 5, Execution("x", 5, D(2), T0)))


def _with_cum(update: OrderUpdate) -> OrderUpdate:
    """The update as Alpaca's stream sends it: the execution carries the order's cumulative quantity."""
    x = update.execution
    if x is None:
        return update
    return replace(update, execution=replace(x, cum_qty=update.cum_filled_qty))


def _rest_twin(update: OrderUpdate) -> OrderUpdate:
    """The same execution as the REST account activity reports it: another id, the same shares,
    price and cumulative quantity (what the trade stream's catch-up forwards)."""
    assert update.execution is not None
    x = update.execution
    return replace(update, execution=replace(x, execution_id=f"2025::{x.execution_id}", cum_qty=update.cum_filled_qty))


@given(order_streams(), st.data())
def test_an_execution_from_the_stream_and_from_rest_counts_once_in_any_order(
    stream: tuple[list[tuple[str, Side, int]], list[OrderUpdate]], data: st.DataObject
) -> None:
    """The stream's report of an execution and the REST catch-up's report of it (another id) in
    any order, any number of times: positions, cash and fills are those of the stream alone."""
    orders, updates = stream
    updates = [_with_cum(u) for u in updates]
    expected = replay(orders, updates)
    twins = [_rest_twin(u) for u in updates if u.execution is not None]
    caught_up = data.draw(st.lists(st.sampled_from(twins), max_size=2 * len(twins)) if twins else st.just([]))
    arrived = data.draw(st.permutations(updates + caught_up), label="arrival order")
    book = replay(orders, arrived)
    pos, want = book.portfolio.position("SPY"), expected.portfolio.position("SPY")
    assert (pos.qty, pos.avg_price, pos.realized_pnl, book.portfolio.cash) == (
        want.qty,
        want.avg_price,
        want.realized_pnl,
        expected.portfolio.cash,
    )
    for coid, order in book.orders.items():
        assert (order.status, order.filled_qty, order.executed_qty) == (
            expected.orders[coid].status,
            expected.orders[coid].filled_qty,
            expected.orders[coid].executed_qty,
        )
