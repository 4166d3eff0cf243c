"""The bar stream: gaps backfilled in order, repeats suppressed, revisions passed on, outages survived."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from quantterminal.core.market_data.bar_stream import BarStream
from quantterminal.core.market_data.feed_events import BarSource, BarUpdate
from quantterminal.core.models import Bar
from quantterminal.core.ports import HistoryUnavailable

OPEN = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)  # 09:30 New York, a Monday


def bar(i: int, close: float = 100.0, symbol: str = "SPY") -> Bar:
    return Bar(symbol, OPEN + timedelta(minutes=i), close, close + 1, close - 1, close, 1000 + i)


class History:
    """Historical bars from a list; ``down`` makes it refuse like an unreachable API."""

    def __init__(self, bars: list[Bar], down: bool = False) -> None:
        self.bars, self.down = bars, down
        self.calls: list[tuple[str, datetime, datetime]] = []

    def minute_bars(self, symbol: str, start: datetime, end: datetime) -> list[Bar]:
        self.calls.append((symbol, start, end))
        if self.down:
            raise HistoryUnavailable("HTTP 503")
        return [b for b in self.bars if b.symbol == symbol and start <= b.timestamp < end]


def run(updates: list[BarUpdate], history: History) -> tuple[list[BarUpdate], BarStream]:
    out: list[BarUpdate] = []
    stream = BarStream(history, out.append)
    for u in updates:
        stream.on_bar(u)
    return out, stream


def test_a_gap_is_backfilled_before_the_bar_that_revealed_it() -> None:
    day = [bar(i) for i in range(10)]
    out, stream = run([BarUpdate(day[i], BarSource.PROVIDER) for i in (0, 1, 5, 6, 9)], History(day))
    assert [u.bar for u in out] == day[:10]
    assert [u.source for u in out].count(BarSource.BACKFILL) == 5
    assert (stream.stats.gaps, stream.stats.backfilled) == (2, 5)


def test_no_gap_is_seen_across_the_overnight_close() -> None:
    last = Bar("SPY", datetime(2024, 3, 4, 20, 59, tzinfo=UTC), 1, 1, 1, 1, 1)
    first = Bar("SPY", datetime(2024, 3, 5, 14, 30, tzinfo=UTC), 1, 1, 1, 1, 1)
    history = History([])
    out, stream = run([BarUpdate(last, BarSource.PROVIDER), BarUpdate(first, BarSource.PROVIDER)], history)
    assert len(out) == 2
    assert history.calls == []
    assert stream.stats.gaps == 0


def test_a_repeat_is_suppressed_and_a_different_bar_is_a_revision() -> None:
    built = BarUpdate(bar(0), BarSource.BUILT)
    same_from_provider = BarUpdate(dataclasses.replace(bar(0), vwap=100.01, trade_count=7), BarSource.PROVIDER)
    corrected = BarUpdate(bar(0, close=100.5), BarSource.PROVIDER)
    revised_again = BarUpdate(bar(0, close=100.7), BarSource.REVISION)
    out, stream = run([built, same_from_provider, corrected, corrected, revised_again], History([]))
    assert [(u.bar.close, u.source) for u in out] == [
        (100.0, BarSource.BUILT),
        (100.5, BarSource.REVISION),
        (100.7, BarSource.REVISION),
    ]
    assert (stream.stats.repeats, stream.stats.revisions) == (2, 2)


def test_when_history_is_down_the_gap_is_counted_and_the_stream_goes_on() -> None:
    day = [bar(i) for i in range(6)]
    history = History(day, down=True)
    out, stream = run([BarUpdate(day[i], BarSource.PROVIDER) for i in (0, 4, 5)], history)
    assert [u.bar for u in out] == [day[0], day[4], day[5]]
    assert (stream.stats.gaps, stream.stats.unfilled) == (1, 1)
    # a minute of the hole arriving now is out of order: passed on as late (the ledger keeps the
    # real minute; no strategy sees it), counted -- and a repeat of it is recognised
    stream.on_bar(BarUpdate(day[2], BarSource.PROVIDER))
    assert out[-1] == BarUpdate(day[2], BarSource.LATE)
    assert stream.stats.late == 1
    stream.on_bar(BarUpdate(day[2], BarSource.PROVIDER))
    assert len(out) == 4
    assert stream.stats.repeats == 1


def test_daily_bars_are_not_minutes() -> None:
    out, _ = run([BarUpdate(bar(0), BarSource.DAILY)], History([]))
    assert out == []


@settings(max_examples=150, deadline=None)
@given(
    kept=st.lists(st.booleans(), min_size=30, max_size=30),
    repeats=st.lists(st.integers(0, 29), max_size=15),
    symbols=st.sampled_from([("SPY",), ("SPY", "IBM")]),
)
def test_every_minute_comes_out_once_in_order_whatever_was_lost_or_repeated(
    kept: list[bool], repeats: list[int], symbols: tuple[str, ...]
) -> None:
    """Any pattern of lost bars and repeats gives each symbol's full minute series, once, in order."""
    day = [bar(i, 100.0 + i, s) for i in range(30) for s in symbols]
    live: list[BarUpdate] = []
    for i in range(30):
        for s in symbols:
            if kept[i] or i in (0, 29):  # the run's first and last bars are seen (finish covers the tail)
                live.append(BarUpdate(bar(i, 100.0 + i, s), BarSource.PROVIDER))
            for r in repeats:
                if r < i and r % 3 == i % 3:
                    live.append(BarUpdate(bar(r, 100.0 + r, s), BarSource.PROVIDER))
    out, stream = run(live, History(day))
    for s in symbols:
        assert [u.bar for u in out if u.bar.symbol == s] == [b for b in day if b.symbol == s]
    assert stream.stats.revisions == 0


def test_a_quiet_minute_on_iex_is_not_a_gap_to_fetch_but_a_long_one_is() -> None:
    """Alpaca's IEX feed has no bar for a minute without an IEX trade (the real SPY/QQQ IEX files
    have runs of 1-3 such minutes); fetching history for them only finds nothing."""
    history = History([bar(i) for i in range(20)])
    out: list[BarUpdate] = []
    stream = BarStream(history, out.append, quiet=timedelta(minutes=5))
    for i in (0, 1, 3, 4, 7, 15):  # quiet runs of 1 and 2 minutes, then 7 missing minutes
        stream.on_bar(BarUpdate(bar(i), BarSource.PROVIDER))
    assert history.calls == [("SPY", OPEN + timedelta(minutes=8), OPEN + timedelta(minutes=15))]
    assert (stream.stats.quiet, stream.stats.gaps, stream.stats.backfilled) == (2, 1, 7)


def test_a_silent_symbol_is_backfilled_on_the_clock_once_per_silence() -> None:
    history = History([bar(i) for i in range(30)])
    out: list[BarUpdate] = []
    stream = BarStream(history, out.append, quiet=timedelta(minutes=1))
    stream.on_bar(BarUpdate(bar(0), BarSource.PROVIDER))
    # the minute just ended may still get its bar: only minutes before it count as silent
    stream.probe(OPEN + timedelta(minutes=5, seconds=5))  # 3 silent minutes: within quiet + 2 intervals
    assert history.calls == []
    stream.probe(OPEN + timedelta(minutes=6, seconds=5))  # 4: a silence, looked up now
    assert [u.bar.timestamp for u in out[1:]] == [OPEN + timedelta(minutes=i) for i in range(1, 5)]
    assert all(u.source is BarSource.BACKFILL for u in out[1:])
    empty = History([])
    stream.history = empty
    stream.probe(OPEN + timedelta(minutes=10, seconds=5))
    stream.probe(OPEN + timedelta(minutes=10, seconds=30))
    assert len(empty.calls) == 1, "a span found empty is not asked for again"
    stream.on_bar(BarUpdate(bar(10), BarSource.PROVIDER))
    assert len(empty.calls) == 1, "nor when the next bar comes"
    closed = BarStream(History([]), out.append)
    closed.on_bar(BarUpdate(bar(389), BarSource.PROVIDER))  # 15:59, the last minute
    closed.probe(OPEN + timedelta(hours=8))  # the evening: the market is closed, nothing is missing
    assert closed.stats.probes == 0


def test_a_replacement_feed_fetches_the_minutes_its_predecessor_missed() -> None:
    """A Spot interruption or a deploy: the old task stops after minute 2, the new one starts
    and its first bar is minute 6. Resumed from 'a few minutes ago', it backfills minutes 3-5
    (and emits minute 2 again as backfill: the same minute downstream)."""
    day = [bar(i) for i in range(8)]
    out: list[BarUpdate] = []
    stream = BarStream(History(day), out.append)
    stream.resume(["SPY"], day[2].timestamp)
    stream.on_bar(BarUpdate(day[6], BarSource.PROVIDER))
    assert [(u.bar.timestamp, u.source) for u in out] == [
        *[(day[i].timestamp, BarSource.BACKFILL) for i in range(2, 6)],
        (day[6].timestamp, BarSource.PROVIDER),
    ]
    stream.resume(["SPY"], day[0].timestamp)  # a symbol already seen is not moved back
    stream.on_bar(BarUpdate(day[7], BarSource.PROVIDER))
    assert out[-1] == BarUpdate(day[7], BarSource.PROVIDER)
    # a first bar older than the resume point (a replay of old data) is just a first bar
    replayed: list[BarUpdate] = []
    old = BarStream(History(day), replayed.append)
    old.resume(["SPY"], day[5].timestamp)
    old.on_bar(BarUpdate(day[2], BarSource.PROVIDER))
    assert replayed == [BarUpdate(day[2], BarSource.PROVIDER)]
