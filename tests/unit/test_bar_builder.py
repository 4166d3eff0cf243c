"""Minute bars from trades: any arrival order inside the grace period gives the bar the exchange
times imply; duplicates count once; late trades are dropped and counted; nothing is emitted twice."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantterminal.core.market_data.bar_builder import MinuteBarBuilder
from quantterminal.core.market_data.feed_events import BarSource
from quantterminal.core.models import Trade

T0 = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)


def trade(ms: int, price: float, size: int = 100, tid: str | None = None, symbol: str = "SPY") -> Trade:
    return Trade(symbol, T0 + timedelta(milliseconds=ms), price, size, tid or f"t{ms}-{price}", "V")


trades_in_one_minute = st.lists(
    st.tuples(st.integers(0, 59_999), st.integers(10_000, 11_000), st.integers(1, 500)),
    min_size=1,
    max_size=60,
    unique_by=lambda t: t[0],
)


@given(trades_in_one_minute, st.randoms(use_true_random=False))
def test_any_arrival_order_gives_the_bar_of_exchange_time(rows: list[tuple[int, int, int]], rnd: object) -> None:
    trades = [trade(ms, cents / 100, size) for ms, cents, size in rows]
    arrival = list(trades)
    rnd.shuffle(arrival)  # type: ignore[attr-defined]
    builder = MinuteBarBuilder()
    for t in arrival + arrival[:3]:  # and a few redelivered
        builder.add(t)
    assert builder.close_due(T0 + timedelta(seconds=61)) == []  # still inside the grace period
    (update,) = builder.close_due(T0 + timedelta(seconds=62))
    ordered = sorted(trades, key=lambda t: t.timestamp)
    bar = update.bar
    assert update.source is BarSource.BUILT
    assert (bar.timestamp, bar.open, bar.close) == (T0, ordered[0].price, ordered[-1].price)
    assert (bar.high, bar.low) == (max(t.price for t in trades), min(t.price for t in trades))
    assert bar.volume == sum(t.size for t in trades)
    assert bar.trade_count == len(trades)
    assert bar.vwap is not None
    assert math.isclose(bar.vwap, sum(t.price * t.size for t in trades) / bar.volume, rel_tol=1e-12)
    assert builder.duplicate_trades == min(3, len(arrival))


def test_late_trades_are_dropped_and_counted_and_minutes_never_reopen() -> None:
    builder = MinuteBarBuilder(grace=timedelta(seconds=2))
    builder.add(trade(1_000, 100.0))
    builder.add(trade(61_500, 101.0))  # next minute
    first = builder.close_due(T0 + timedelta(seconds=62))
    assert [u.bar.timestamp for u in first] == [T0]
    builder.add(trade(59_000, 99.0))  # belongs to the emitted minute: too late
    builder.add(Trade("QQQ", T0 + timedelta(seconds=30), 400.0, 10, "q1", "V"))  # closed minute, other symbol
    assert builder.late_trades == 2
    rest = builder.flush()
    assert [(u.bar.symbol, u.bar.timestamp) for u in rest] == [("SPY", T0 + timedelta(minutes=1))]
    assert builder.flush() == []


def test_bars_of_many_symbols_come_out_in_time_order() -> None:
    builder = MinuteBarBuilder()
    for minute in (2, 0, 1):
        for symbol in ("QQQ", "SPY"):
            builder.add(trade(minute * 60_000 + 5, 100.0 + minute, symbol=symbol))
    out = builder.close_due(T0 + timedelta(minutes=5))
    assert [(u.bar.timestamp.minute, u.bar.symbol) for u in out] == [
        (30, "QQQ"),
        (30, "SPY"),
        (31, "QQQ"),
        (31, "SPY"),
        (32, "QQQ"),
        (32, "SPY"),
    ]


def test_grace_must_be_shorter_than_a_minute() -> None:
    with pytest.raises(ValueError, match="grace"):
        MinuteBarBuilder(grace=timedelta(seconds=60))


def test_a_trade_for_the_cached_minute_after_it_closed_is_late() -> None:
    builder = MinuteBarBuilder(grace=timedelta(seconds=1))
    builder.add(trade(10_000, 100.0))
    assert len(builder.close_due(T0 + timedelta(seconds=61))) == 1
    builder.add(trade(20_000, 101.0))  # same minute as the cached bucket, which is now closed
    assert builder.late_trades == 1
    assert builder.flush() == []
