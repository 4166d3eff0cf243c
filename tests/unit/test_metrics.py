"""Metrics against values computed by hand."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from quantterminal.core.accounting.metrics import (
    compute_metrics,
    daily_equity,
    daily_returns,
    max_drawdown,
    sharpe_ratio,
    sortino_ratio,
)
from quantterminal.core.accounting.trades import RoundTrip
from quantterminal.core.models import Direction


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 3, day, hour, minute, tzinfo=UTC)


def trip(pnl: str) -> RoundTrip:
    return RoundTrip(
        "SPY",
        Direction.LONG,
        1,
        at(4, 15),
        at(4, 16),
        Decimal(100),
        Decimal(100) + Decimal(pnl),
        Decimal(pnl),
        Decimal(0),
    )


# Three sessions (Mon 4th .. Wed 6th March 2024, New York is UTC-5): +10 %, −10 %, +10 %.
CURVE = [
    (at(4, 15), 105.0),
    (at(4, 20, 59), 110.0),
    (at(5, 15), 104.0),
    (at(5, 20, 59), 99.0),
    (at(6, 15), 100.0),
    (at(6, 20, 59), 108.9),
]


def test_daily_equity_takes_the_last_point_of_each_new_york_date() -> None:
    # 2024-03-05 01:00 UTC is still the 4th in New York.
    curve = [(at(4, 20), 1.0), (at(5, 1), 2.0), (at(5, 15), 3.0)]
    assert [e for _, e in daily_equity(curve)] == [2.0, 3.0]


def test_sharpe_and_sortino_by_hand() -> None:
    returns = daily_returns(100.0, daily_equity(CURVE))
    assert returns == pytest.approx([0.1, -0.1, 0.1])
    # mean 1/30; sample stdev √(1/75) → Sharpe = (1/30)·√75·√252 = √18900 / 30
    assert sharpe_ratio(returns) == pytest.approx(math.sqrt(18900) / 30)
    # downside deviation √(0.01/3) → Sortino = (1/30)·√300·√252 = √75600 / 30
    assert sortino_ratio(returns) == pytest.approx(math.sqrt(75600) / 30)


def test_undefined_ratios_are_none() -> None:
    assert sharpe_ratio([0.01]) is None
    assert sharpe_ratio([0.01, 0.01]) is None
    assert sortino_ratio([0.01, 0.02]) is None


def test_max_drawdown_by_hand() -> None:
    assert max_drawdown([e for _, e in CURVE], 100.0) == pytest.approx(0.1)  # 110 → 99
    assert max_drawdown([101.0, 102.0], 100.0) == 0.0
    assert max_drawdown([90.0], 100.0) == pytest.approx(0.1)  # below the start counts


def test_compute_metrics_by_hand() -> None:
    m = compute_metrics(Decimal(100), Decimal("108.9"), CURVE, [trip("3"), trip("-1"), trip("4")], exposed_points=3)
    assert m.total_return == pytest.approx(0.089)
    assert m.trading_days == 3
    assert m.cagr == pytest.approx(1.089 ** (252 / 3) - 1)
    assert m.sharpe == pytest.approx(math.sqrt(18900) / 30)
    assert m.max_drawdown == pytest.approx(0.1)
    assert m.num_trades == 3
    assert m.win_rate == pytest.approx(2 / 3)
    assert m.avg_trade == Decimal(2)
    assert m.exposure == 0.5


def test_metrics_of_an_empty_run() -> None:
    m = compute_metrics(Decimal(100), Decimal(100), [], [], 0)
    assert (m.total_return, m.cagr, m.sharpe, m.win_rate, m.avg_trade, m.exposure) == (
        0.0,
        None,
        None,
        None,
        None,
        0.0,
    )
