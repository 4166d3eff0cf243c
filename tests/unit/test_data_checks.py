"""Honest data: the bar size is recognised and holes in the data are found against the NYSE
calendar; a backtest does not carry a position across a long hole (it booked the whole move of a
missing month as one bar's P&L)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from quantterminal.adapters.market_data.csv_bars import SAMPLE_ROOT, load_bars
from quantterminal.cli.main import main
from quantterminal.core.market_data.data_checks import bar_interval, describe_interval, find_gaps, sessions_between
from quantterminal.core.market_data.sessions import session_date
from quantterminal.core.models import Bar
from quantterminal.core.simulation.backtest import BacktestConfig
from quantterminal.wiring.backtest import run_backtest


def aggregate(bars: list[Bar], bucket: Callable[[datetime], object]) -> list[Bar]:
    """Real minute bars rolled up into bigger ones (first open, high, low, last close, volume)."""
    groups: dict[object, list[Bar]] = {}
    for bar in bars:
        groups.setdefault(bucket(bar.timestamp), []).append(bar)
    return [
        Bar(g[0].symbol, g[0].timestamp, g[0].open, max(b.high for b in g), min(b.low for b in g), g[-1].close,
            sum(b.volume for b in g))
        for g in groups.values()
    ]  # fmt: skip


def five_minutes(ts: datetime) -> object:
    return ts.replace(minute=ts.minute - ts.minute % 5)


def daily(bars: list[Bar]) -> list[Bar]:
    rolled = aggregate(bars, session_date)
    # stamped as daily bars are: the session date at midnight New York
    from quantterminal.core.market_data.sessions import day_bounds

    return [Bar(b.symbol, day_bounds(session_date(b.timestamp))[0], b.open, b.high, b.low, b.close, b.volume)
            for b in rolled]  # fmt: skip


def test_the_bar_size_is_recognised(spy_2011_rth: list[Bar]) -> None:
    assert describe_interval(bar_interval(spy_2011_rth)) == "1-minute"
    assert describe_interval(bar_interval(aggregate(spy_2011_rth, five_minutes))) == "5-minute"
    assert describe_interval(bar_interval(aggregate(spy_2011_rth, lambda t: t.replace(minute=0)))) == "hourly"
    assert describe_interval(bar_interval(daily(spy_2011_rth))) == "daily"


def test_holes_are_counted_in_sessions_and_holidays_are_not_holes() -> None:
    spy = load_bars(SAMPLE_ROOT / "spy_2011", regular_hours_only=True)
    (gap,) = find_gaps(spy)
    assert (gap.symbol, gap.sessions) == ("SPY", 19)  # February 2011: 19 NYSE sessions (Presidents' Day closed)
    assert "between 2011-01-31 and 2011-03-01" in gap.describe()
    assert find_gaps(load_bars(SAMPLE_ROOT / "lean_2013", regular_hours_only=True)) == []  # a weekend inside
    assert sessions_between(date(2024, 12, 24), date(2024, 12, 26)) == 0  # Christmas


def test_a_position_is_not_carried_across_a_long_hole() -> None:
    spy = load_bars(SAMPLE_ROOT / "spy_2011", regular_hours_only=True)
    closed = run_backtest(BacktestConfig(("momentum",)), spy)
    (exit_fill,) = closed.gap_exits
    assert exit_fill.timestamp == datetime.fromisoformat("2011-01-31T20:59:00+00:00")  # 15:59 New York
    assert (exit_fill.side.value, exit_fill.qty, exit_fill.price) == ("sell", 77, Decimal("128.67"))
    held = sum(f.side.sign * f.qty for f in closed.fills if f.timestamp <= exit_fill.timestamp)
    assert held == 0, "flat across the hole"
    carried = run_backtest(BacktestConfig(("momentum",), max_gap_sessions=None), spy)
    assert carried.gap_exits == []
    assert carried.metrics.total_return != closed.metrics.total_return
    assert run_backtest(BacktestConfig(("momentum",), max_gap_sessions=19), spy).gap_exits == []


def test_the_command_says_what_the_data_is(
    spy_2011_rth: list[Bar], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    days = daily(spy_2011_rth)
    csv = tmp_path / "SPY_daily.csv"
    csv.write_text(
        "timestamp,open,high,low,close,volume\n"
        + "".join(f"{b.timestamp.isoformat()},{b.open},{b.high},{b.low},{b.close},{b.volume}\n" for b in days)
    )
    assert main(["backtest", "--strategy", "momentum", "--data", str(csv)]) == 0
    out = capsys.readouterr().out
    assert f"{len(days)} daily bars" in out, "daily bars (stamped at midnight) are whole sessions"
    assert "data gaps: 1" in out
    with pytest.raises(SystemExit) as exited:
        main(["backtest", "--strategy", "momentum", "--data", "sample:spy_2011", "--max-gap-sessions", "x"])
    assert exited.value.code == 2
    assert "expected a whole number of sessions or 'none'" in capsys.readouterr().err


def test_gaps_need_whole_sessions_missing(spy_2011_rth: list[Bar]) -> None:
    one_day = [b for b in spy_2011_rth if session_date(b.timestamp) != date(2011, 1, 5)]
    (gap,) = [g for g in find_gaps({"SPY": one_day}) if g.sessions < 19]
    assert gap.sessions == 1
    assert gap.before + timedelta(days=1) < gap.after
