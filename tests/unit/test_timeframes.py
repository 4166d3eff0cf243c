"""Bars of 5, 15, 30, 60 minutes and a day built from minute bars: session-aligned windows on the
exchange calendar, and the same bars whatever the stream is cut into (a Lambda saves the bar in
the making between invocations) -- checked against an independent grouping of the minutes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantterminal.core.market_data.calendar import session_bounds
from quantterminal.core.market_data.sessions import NEW_YORK
from quantterminal.core.market_data.timeframes import (
    TIMEFRAMES,
    TimeframeBars,
    TimeframeError,
    parse_timeframe,
    resample,
    window_of,
)
from quantterminal.core.models import Bar

MINUTE = timedelta(minutes=1)


def at(day: date, hh: int, mm: int) -> datetime:
    return datetime.combine(day, time(hh, mm), NEW_YORK).astimezone(UTC)


def minutes(day: date, first: tuple[int, int] = (4, 0), last: tuple[int, int] = (19, 59)) -> list[Bar]:
    """A bar every minute of ``day`` from ``first`` to ``last`` New York (extended hours by default)."""
    start, end = at(day, *first), at(day, *last)
    bars, i = [], 0
    while start + i * MINUTE <= end:
        price = 100 + (i % 17) * 0.25
        bars.append(Bar("SPY", start + i * MINUTE, price, price + 0.5, price - 0.5, price + 0.25, 100 + i))
        i += 1
    return bars


def test_names_and_spellings() -> None:
    assert [parse_timeframe(t) for t in ("1m", "5MIN", "1h", "hourly", "daily", "1d", "30min")] == [
        "1min",
        "5min",
        "60min",
        "60min",
        "1day",
        "1day",
        "30min",
    ]
    with pytest.raises(TimeframeError, match="bar size '7min': use one of 1min, 5min"):
        parse_timeframe("7min")


def test_windows_follow_the_session_not_the_clock() -> None:
    day = date(2013, 10, 7)
    assert window_of(at(day, 9, 29), "5min") is None  # pre-market: no window
    assert window_of(at(day, 16, 0), "60min") is None  # after the close
    w = window_of(at(day, 9, 34), "5min")
    assert w is not None
    assert (w.start, w.end) == (at(day, 9, 30), at(day, 9, 35))
    last_hour = window_of(at(day, 15, 59), "60min")
    assert last_hour is not None
    assert (last_hour.start, last_hour.end) == (at(day, 15, 30), at(day, 16, 0))  # 09:30 + 6 h, cut at the close
    whole = window_of(at(day, 12, 0), "1day")
    assert whole is not None
    assert (whole.start, whole.end, whole.stamp) == (at(day, 9, 30), at(day, 16, 0), at(day, 0, 0))


def test_an_early_close_ends_the_last_bars_and_the_day_at_13_00() -> None:
    friday = date(2013, 11, 29)  # the day after Thanksgiving
    bars = minutes(friday)
    hourly = resample(bars, "60min")
    assert [b.timestamp for b in hourly][-1] == at(friday, 12, 30)
    assert len(hourly) == 4  # 09:30, 10:30, 11:30, 12:30-13:00
    (daily,) = resample(bars, "1day")
    assert daily.timestamp == at(friday, 0, 0)
    session = [b for b in bars if at(friday, 9, 30) <= b.timestamp < at(friday, 13, 0)]
    assert (daily.open, daily.close, daily.volume) == (
        session[0].open,
        session[-1].close,
        sum(b.volume for b in session),
    )
    assert resample(minutes(date(2013, 11, 28)), "1day") == []  # Thanksgiving: no session, no bar


def test_one_minute_passes_every_bar_through_extended_hours_included() -> None:
    bars = minutes(date(2013, 10, 7))
    assert resample(bars, "1min") == bars


def test_a_window_without_its_last_minute_completes_on_the_next_bar() -> None:
    day = date(2013, 10, 7)
    bars = [b for b in minutes(day, (9, 30), (9, 40)) if b.timestamp != at(day, 9, 34)]
    builder = TimeframeBars("5min")
    out = [(b.timestamp, [d.timestamp for d in builder.add(b)]) for b in bars]
    assert out[3] == (at(day, 9, 33), [])
    assert out[4] == (at(day, 9, 35), [at(day, 9, 30)])  # the first bar past the window completes it
    assert out[8] == (at(day, 9, 39), [at(day, 9, 35)])


def oracle(bars: Sequence[Bar], size: str) -> list[Bar]:
    """Group the minutes by hand: a window is complete when its last minute is there or a later
    bar came; its OHLCV from its minutes."""
    groups: dict[datetime, list[Bar]] = {}
    ends: dict[datetime, datetime] = {}
    for bar in bars:
        ny = bar.timestamp.astimezone(NEW_YORK)
        bounds = session_bounds(ny.date())
        if bounds is None or not bounds[0] <= bar.timestamp < bounds[1]:
            continue
        if size == "1day":
            key, end = datetime.combine(ny.date(), time(0), NEW_YORK).astimezone(UTC), bounds[1]
        else:
            n = int(size.removesuffix("min"))
            offset = int((bar.timestamp - bounds[0]) / MINUTE) // n * n
            key = bounds[0] + offset * MINUTE
            end = min(key + n * MINUTE, bounds[1])
        groups.setdefault(key, []).append(bar)
        ends[key] = end
    last = bars[-1].timestamp if bars else None
    done = []
    for key, members in groups.items():
        if members[-1].timestamp + MINUTE < ends[key] and (last is None or last < ends[key]):
            continue  # neither its last minute nor any later bar: still in the making
        done.append(
            Bar(
                "SPY",
                key,
                members[0].open,
                max(b.high for b in members),
                min(b.low for b in members),
                members[-1].close,
                sum(b.volume for b in members),
            )
        )
    return done


@settings(max_examples=150, deadline=None)
@given(
    size=st.sampled_from([t for t in TIMEFRAMES if t != "1min"]),
    kept=st.lists(st.booleans(), min_size=2 * 960, max_size=2 * 960),
    cuts=st.sets(st.integers(0, 2 * 960)),
)
def test_any_cut_and_restore_gives_the_bars_an_independent_grouping_gives(
    size: str, kept: list[bool], cuts: set[int]
) -> None:
    """Minutes dropped at random (quiet minutes), the stream cut anywhere with the bar in the
    making saved as JSON and loaded into a new builder (a new Lambda): the same bars, equal to a
    by-hand grouping."""
    every = minutes(date(2013, 10, 7)) + minutes(date(2013, 10, 8))
    bars = [b for b, keep in zip(every, kept, strict=True) if keep]
    builder, out = TimeframeBars(size), []
    for i, bar in enumerate(bars):
        if i in cuts:
            saved = json.loads(json.dumps(builder.state()))
            builder = TimeframeBars(size)
            builder.load(saved)
        out += builder.add(bar)
    assert out == resample(bars, size)
    assert [(b.timestamp, b.open, b.high, b.low, b.close, b.volume) for b in out] == [
        (b.timestamp, b.open, b.high, b.low, b.close, b.volume) for b in oracle(bars, size)
    ]


def test_a_redelivered_minute_is_not_built_in_twice_and_keeps_its_decision_bar() -> None:
    """Kinesis may deliver a minute twice (a retried batch): the engine's snapshot remembers the
    minute, so the 5-minute bar is not counted twice and the decision is about the same bar (the
    same client order id)."""
    from quantterminal.adapters.broker.simulated_broker import SimulatedBroker
    from quantterminal.adapters.state.memory_state import MemoryStateStore
    from quantterminal.core.risk.gate import RiskGate
    from quantterminal.core.strategies import StrategyInstance, strategy_class
    from quantterminal.core.trading.engine import TradingEngine

    store = MemoryStateStore()
    instance = StrategyInstance.of(strategy_class("momentum"), "m5", {"fast": 2, "slow": 3}, timeframe="5min")
    engine = TradingEngine(instance, "paper", store, SimulatedBroker(), RiskGate(store, "paper"))
    snapshot = None
    decided: list[Bar] = []
    for bar in minutes(date(2013, 10, 7), (9, 30), (10, 29)):
        first = engine.consume(bar, snapshot)
        assert first.snapshot is not None
        again = engine.consume(bar, first.snapshot)
        assert not again.new
        assert again.wanted == first.wanted
        if first.bar is not None:  # the bar the answer is about: the last one completed
            assert again.bar is not None
            assert (again.bar.timestamp, again.bar.close) == (first.bar.timestamp, first.bar.close)
            if not decided or decided[-1].timestamp != first.bar.timestamp:
                decided.append(first.bar)
        snapshot = first.snapshot
    assert [b.timestamp for b in decided] == [at(date(2013, 10, 7), 9, 30) + i * 5 * MINUTE for i in range(12)]
    assert decided == resample(minutes(date(2013, 10, 7), (9, 30), (10, 29)), "5min")
