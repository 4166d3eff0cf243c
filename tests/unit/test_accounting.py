"""Exact accounting: positions, cash, realised/unrealised P&L, round trips, money helpers, sizing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantterminal.core.accounting.portfolio import Portfolio, Position
from quantterminal.core.accounting.trades import RoundTripBook
from quantterminal.core.models import Direction, Fill, Side
from quantterminal.core.money import round_to_tick, to_decimal
from quantterminal.core.simulation.execution import BpsSlippage, PerShareCommission
from quantterminal.core.trading.sizing import shares_for, target_quantity
from tests.helpers import T0

D = Decimal


def fill(side: Side, qty: int, price: str, i: int = 0, commission: str = "0", symbol: str = "SPY") -> Fill:
    return Fill(symbol, T0 + timedelta(minutes=i), side, qty, D(price), D(commission), f"o{i}", f"x{i}")


# --- positions and cash ---------------------------------------------------------------------


def test_long_round_trip_realises_exact_pnl_and_moves_cash() -> None:
    pf = Portfolio(D("10000"))
    pf.apply_fill(fill(Side.BUY, 10, "100.10", commission="1.00"))
    pf.apply_fill(fill(Side.BUY, 5, "100.40"))
    pos = pf.position("SPY")
    assert pos.qty == 15
    assert pos.avg_price == D("100.20")
    assert pos.unrealized_pnl(D("101")) == D("12.00")
    realized = pf.apply_fill(fill(Side.SELL, 15, "101.00", commission="1.00"))
    assert realized == D("12.00")
    assert pf.cash == D("10000") - D("1001.00") - D("502.00") + D("1515.00") - D("2.00")
    assert pf.cash == D("10010.00")
    assert pf.commissions == D("2.00")
    assert pos.qty == 0
    assert pos.avg_price is None


def test_short_partial_cover_then_flip_to_long() -> None:
    pos = Position("SPY")
    assert pos.apply(Side.SELL, 10, D("50.00")) == 0
    assert pos.qty == -10
    assert pos.unrealized_pnl(D("49")) == D("10")
    assert pos.apply(Side.BUY, 4, D("48.00")) == D("8.00")  # covered 4 at a $2 gain
    assert pos.qty == -6
    assert pos.apply(Side.BUY, 10, D("51.00")) == D("-6.00")  # covers 6 at a $1 loss, 4 long
    assert pos.qty == 4
    assert pos.avg_price == D("51.00")
    assert pos.realized_pnl == D("2.00")


def test_fifo_lots_realise_oldest_first() -> None:
    pos = Position("SPY")
    pos.apply(Side.BUY, 1, D("10"))
    pos.apply(Side.BUY, 1, D("20"))
    assert pos.apply(Side.SELL, 1, D("15")) == D("5")  # against the $10 lot
    assert pos.avg_price == D("20")


def test_zero_or_negative_fill_quantity_is_refused_and_changes_nothing() -> None:
    pos = Position("SPY")
    pos.apply(Side.BUY, 3, D("10"))
    with pytest.raises(ValueError, match="positive"):
        pos.apply(Side.BUY, 0, D("10"))
    assert pos.qty == 3
    assert pos.cost_basis == D("30")


fills_strategy = st.lists(
    st.tuples(
        st.sampled_from([Side.BUY, Side.SELL]),
        st.integers(1, 500),
        st.decimals(D("0.5"), D("900"), places=2),
        st.decimals(D("0"), D("5"), places=2),
    ),
    min_size=1,
    max_size=40,
)


@given(fills_strategy, st.decimals(D("0.5"), D("900"), places=2))
def test_equity_identity_holds_exactly_for_any_fill_sequence(
    fills: list[tuple[Side, int, Decimal, Decimal]], mark: Decimal
) -> None:
    """cash + market value = initial + realised + unrealised − commissions, to the last digit."""
    initial = D("100000")
    pf = Portfolio(initial)
    for i, (side, qty, price, commission) in enumerate(fills):
        pf.apply_fill(fill(side, qty, str(price), i, str(commission)))
    pos = pf.position("SPY")
    assert pos.qty == sum(q * s.sign for s, q, _, _ in fills)
    equity = pf.equity({"SPY": mark})
    assert equity == initial + pf.realized_pnl + pos.unrealized_pnl(mark) - pf.commissions
    flows = sum((-s.sign * q * p - c for s, q, p, c in fills), D(0))
    assert pf.cash == initial + flows


# --- round trips ---------------------------------------------------------------------------


def book_fills(fills: list[Fill]) -> RoundTripBook:
    pf = Portfolio(D("100000"))
    book = RoundTripBook()
    for f in fills:
        book.on_fill(f, pf.apply_fill(f))
    return book


def test_round_trip_long_with_commission() -> None:
    book = book_fills([fill(Side.BUY, 10, "100", 0, "1.00"), fill(Side.SELL, 10, "103", 5, "1.00")])
    (trip,) = book.closed
    assert (trip.side, trip.qty, trip.entry_price, trip.exit_price) == (
        Direction.LONG,
        10,
        D("100"),
        D("103"),
    )
    assert trip.gross_pnl == D("30")
    assert trip.pnl == D("28.00")
    assert trip.exit_time - trip.entry_time == timedelta(minutes=5)
    assert book.open_symbols() == []


def test_two_instances_on_one_symbol_make_their_own_round_trips() -> None:
    """A buys 10 and B buys 5 of one symbol; A sells its 10 while B holds: the account's net never
    went flat, but A's trade closed (an account-level book saw one trip where the instances made
    two, and told neither which instance traded it)."""
    book = RoundTripBook()
    positions = {"a": Position("SPY"), "b": Position("SPY")}
    for owner, f in (
        ("a", fill(Side.BUY, 10, "100", 0, "0")),
        ("b", fill(Side.BUY, 5, "101", 1, "0")),
        ("a", fill(Side.SELL, 10, "103", 2, "0")),
        ("b", fill(Side.SELL, 5, "99", 3, "0")),
    ):
        book.on_fill(f, positions[owner].apply(f.side, f.qty, f.price), strategy=owner)
    assert [(t.strategy, t.qty, t.gross_pnl) for t in book.closed] == [("a", 10, D("30")), ("b", 5, D("-10"))]
    assert book.open_symbols() == []


def test_flip_closes_one_round_trip_and_opens_the_next() -> None:
    book = book_fills(
        [
            fill(Side.BUY, 10, "100", 0, "1.00"),
            fill(Side.SELL, 25, "98", 1, "2.00"),  # closes 10 long at -$20 and opens 15 short
            fill(Side.BUY, 15, "97", 2, "1.00"),  # covers the short at +$15
        ]
    )
    long_trip, short_trip = book.closed
    assert long_trip.side is Direction.LONG
    assert long_trip.pnl == D("-20") - D("3.00")  # the flipping fill's commission goes here
    assert short_trip.side is Direction.SHORT
    assert short_trip.qty == 15
    assert short_trip.entry_price == D("98")
    assert short_trip.pnl == D("15") - D("1.00")


def test_scaling_in_and_out_averages_prices() -> None:
    book = book_fills(
        [
            fill(Side.BUY, 10, "100", 0),
            fill(Side.BUY, 10, "102", 1),
            fill(Side.SELL, 5, "105", 2),
            fill(Side.SELL, 15, "104", 3),
        ]
    )
    (trip,) = book.closed
    assert trip.qty == 20
    assert trip.entry_price == D("101")
    assert trip.exit_price == D("104.25")
    assert trip.pnl == D("65")


@given(fills_strategy)
def test_round_trips_account_for_every_realised_dollar(
    fills: list[tuple[Side, int, Decimal, Decimal]],
) -> None:
    pf = Portfolio(D("100000"))
    book = RoundTripBook()
    for i, (side, qty, price, commission) in enumerate(fills):
        f = fill(side, qty, str(price), i, str(commission))
        book.on_fill(f, pf.apply_fill(f))
    if pf.position("SPY").qty == 0:
        assert sum((t.gross_pnl for t in book.closed), D(0)) == pf.realized_pnl
        assert sum((t.commission for t in book.closed), D(0)) == pf.commissions


# --- money, costs and sizing -----------------------------------------------------------------


def test_to_decimal_keeps_the_decimal_a_price_was_written_as() -> None:
    assert to_decimal(689.85) == D("689.85")
    assert to_decimal(0.1) == D("0.1")
    with pytest.raises(ValueError, match="finite"):
        to_decimal(float("nan"))


@pytest.mark.parametrize(
    ("price", "direction", "expected"),
    [
        ("123.456", "nearest", "123.46"),
        ("123.451", "up", "123.46"),
        ("123.459", "down", "123.45"),
        ("0.123456", "nearest", "0.1235"),
        ("0.99995", "down", "0.9999"),
        ("1.005", "nearest", "1.00"),
    ],
)
def test_round_to_tick(price: str, direction: str, expected: str) -> None:
    assert round_to_tick(D(price), direction) == D(expected)


def test_slippage_moves_price_against_the_trader_on_a_valid_tick() -> None:
    slip = BpsSlippage(D("5"))
    assert slip.fill_price(Side.BUY, D("100.00")) == D("100.05")
    assert slip.fill_price(Side.SELL, D("100.00")) == D("99.95")
    assert slip.fill_price(Side.BUY, D("123.45")) == D("123.52")  # 123.5117… rounded up
    assert BpsSlippage().fill_price(Side.BUY, D("123.45")) == D("123.45")
    with pytest.raises(ValueError, match="slippage"):
        BpsSlippage(D("-1"))


def test_commission_per_share_with_minimum() -> None:
    model = PerShareCommission(D("0.005"), D("1.00"))
    assert model.commission(100, D("50")) == D("1.00")
    assert model.commission(1000, D("50")) == D("5.00")
    assert model.commission(333, D("50")) == D("1.66")  # 1.665 rounds half-even
    assert PerShareCommission().commission(1000, D("50")) == 0


def test_sizing_floors_and_never_resizes_a_held_direction() -> None:
    assert shares_for(D("0.10"), D("100000"), D("689.85")) == 14
    assert shares_for(D("0.10"), D("-5"), D("10")) == 0
    assert target_quantity(Direction.LONG, 0, D("0.1"), D("100000"), D("100")) == 100
    assert target_quantity(Direction.LONG, 37, D("0.1"), D("100000"), D("100")) == 37
    assert target_quantity(Direction.SHORT, 37, D("0.1"), D("100000"), D("100")) == -100
    assert target_quantity(Direction.FLAT, -12, D("0.1"), D("100000"), D("100")) == 0


def test_fills_at_the_same_price_share_one_lot_so_stored_positions_stay_small() -> None:
    pos = Position("SPY")
    for _ in range(1000):
        pos.apply(Side.BUY, 1, D("100.01"))
    pos.apply(Side.BUY, 2, D("100.02"))
    assert pos.lots() == ((1000, D("100.01")), (2, D("100.02")))
    assert pos.apply(Side.SELL, 1001, D("101")) == D("990.00") + D("0.98")
