"""Decision-by-decision comparison of a live run with its backtest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from quantterminal.core.models import Direction, Signal
from quantterminal.core.reporting.divergence import compare_decisions

T0 = datetime(2013, 10, 4, 13, 30, tzinfo=UTC)


def sig(minute: int, direction: Direction, symbol: str = "SPY") -> Signal:
    return Signal("momentum", symbol, T0 + timedelta(minutes=minute), direction, 100.0)


def test_live_decisions_agree_with_the_direction_in_force_in_the_backtest() -> None:
    backtest = [sig(5, Direction.LONG), sig(20, Direction.FLAT)]
    # live acted at the change, re-entered at 7 after an unfilled order (same direction), exited at 20
    live = [sig(5, Direction.LONG), sig(7, Direction.LONG), sig(20, Direction.FLAT)]
    assert compare_decisions("momentum", backtest, live) == ([], [])


def test_a_different_direction_is_a_disagreement_and_a_change_not_acted_on_is_missed() -> None:
    backtest = [sig(5, Direction.LONG), sig(20, Direction.FLAT), sig(30, Direction.LONG, "IBM")]
    live = [sig(5, Direction.LONG), sig(12, Direction.FLAT)]
    disagreements, missed = compare_decisions("momentum", backtest, live)
    assert [(d.bar_time, d.backtest, d.live, d.kind) for d in disagreements] == [
        (T0 + timedelta(minutes=12), Direction.LONG, Direction.FLAT, "disagrees")
    ]
    assert [(d.symbol, d.bar_time) for d in missed] == [
        ("SPY", T0 + timedelta(minutes=20)),
        ("IBM", T0 + timedelta(minutes=30)),
    ]


def test_changes_before_the_live_run_started_are_not_expected() -> None:
    backtest = [sig(5, Direction.LONG), sig(20, Direction.FLAT)]
    live = [sig(20, Direction.FLAT)]
    assert compare_decisions("momentum", backtest, live, start=T0 + timedelta(minutes=10)) == ([], [])
