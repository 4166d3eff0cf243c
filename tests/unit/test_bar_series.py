"""Columns that read as lists: ``BarSeries`` (bars) and ``EquityCurve`` (a backtest's equity),
exactly as the list of objects each stands for."""

from __future__ import annotations

from array import array
from datetime import UTC, datetime, timedelta

import pytest

from quantterminal.core.accounting.equity_curve import EquityCurve
from quantterminal.core.accounting.metrics import daily_equity
from quantterminal.core.market_data.bar_series import BarSeries, bars_between
from quantterminal.core.market_data.calendar import is_market_open
from quantterminal.core.models import Bar

START = datetime(2024, 1, 2, 14, 28, tzinfo=UTC)  # 09:28 New York: two pre-market minutes first


def as_list(n: int, symbol: str = "SPY") -> list[Bar]:
    return [Bar(symbol, START + timedelta(minutes=i), 10.0 + i, 11.0 + i, 9.5 + i, 10.5 + i, 100 * i) for i in range(n)]


def as_series(bars: list[Bar], extras: bool = False) -> BarSeries:
    micros = array("q", [(b.timestamp - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) for b in bars])
    prices = [array("d", [getattr(b, name) for b in bars]) for name in ("open", "high", "low", "close")]
    volumes = array("q", [b.volume for b in bars])
    if not extras:
        return BarSeries(bars[0].symbol, micros, *prices, volumes)
    vwaps = array("d", [float("nan") if i % 2 else 10.25 for i in range(len(bars))])
    counts = array("d", [float("nan") if i % 2 else 7.0 for i in range(len(bars))])
    return BarSeries(bars[0].symbol, micros, *prices, volumes, vwaps, counts)


def test_a_series_reads_as_its_list_of_bars() -> None:
    bars = as_list(10_000)
    series = as_series(bars)
    assert len(series) == len(bars)
    assert list(series) == bars
    assert series == bars
    assert bars == series
    assert series[0] == bars[0]
    assert series[-1] == bars[-1]
    assert series[4_321] == bars[4_321]
    assert series[100:110] == bars[100:110]
    assert isinstance(series[100:110], BarSeries)
    assert series[::2] == bars[::2]
    assert series[:3] + series[5:7] == bars[:3] + bars[5:7]
    assert bars[:2] + series[2:4] == bars[:4]
    assert all(b.timestamp.tzinfo is UTC for b in series[:5])
    with pytest.raises(IndexError):
        series[10_000]


def test_vwap_and_trade_count_come_back_with_nan_as_unknown() -> None:
    bars = as_list(4)
    series = as_series(bars, extras=True)
    assert [(b.vwap, b.trade_count) for b in series] == [(10.25, 7), (None, None), (10.25, 7), (None, None)]
    assert [b.vwap for b in series[1:3]] == [None, 10.25]
    assert series == as_series(bars, extras=True)  # NaN (unknown) in both: equal, bar by bar
    assert series != as_series(bars)  # known VWAPs against none


def test_cuts_by_time_and_by_session_and_joins() -> None:
    bars = as_list(600)
    series = as_series(bars)
    lo, hi = START + timedelta(minutes=7), START + timedelta(minutes=300)
    assert bars_between(series, lo, hi) == bars_between(bars, lo, hi) == [b for b in bars if lo <= b.timestamp < hi]
    assert series.regular_session() == [b for b in bars if is_market_open(b.timestamp)]
    assert BarSeries.concat([series[:250], series[250:]]) == bars
    with_extras = as_series(bars, extras=True)
    assert BarSeries.concat([with_extras[:3], with_extras[3:]]) == list(with_extras)
    # a part without VWAPs (a CSV) joined to one with them (Parquet) keeps the known ones
    mixed = BarSeries.concat([with_extras[:4], series[4:6]])
    assert [b.vwap for b in mixed] == [10.25, None, 10.25, None, None, None]


def test_columns_of_different_lengths_are_refused() -> None:
    series = as_series(as_list(3))
    with pytest.raises(ValueError, match="different lengths"):
        BarSeries("SPY", array("q", [1]), *(array("d", [1.0, 2.0]) for _ in range(4)), array("q", [1, 2]))
    assert series != as_series(as_list(4))


def test_an_equity_curve_reads_as_its_list_of_points_and_keeps_exact_stamps() -> None:
    points = [(START + timedelta(minutes=i, microseconds=i * 7), 100_000.0 + i) for i in range(3 * 1_440)]
    curve = EquityCurve()
    for ts, equity in points:
        curve.append(ts, equity)
    assert len(curve) == len(points)
    assert curve == points
    assert list(curve) == points
    assert curve[-1] == points[-1]
    assert curve[10:20] == points[10:20]
    assert list(curve.equities) == [e for _, e in points]
    assert EquityCurve(points) == curve
    assert daily_equity(curve) == daily_equity(points)
    assert [d.isoformat() for d, _ in daily_equity(curve)] == ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
