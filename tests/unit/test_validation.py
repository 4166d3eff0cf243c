"""``bar_problem``: the one definition of a valid bar, for every edge that admits data."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from quantterminal.core.market_data.validation import bar_problem
from tests.helpers import bar

GOOD = bar(0, 100.0, open_=99.5, high=100.5, low=99.0)


def test_a_good_bar_has_no_problem() -> None:
    assert bar_problem(GOOD) is None
    assert bar_problem(dataclasses.replace(GOOD, vwap=99.8, trade_count=12, volume=0)) is None


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"timestamp": datetime(2024, 1, 2, 9, 30)}, "is not timezone-aware UTC"),  # noqa: DTZ001
        (
            {"timestamp": datetime(2024, 1, 2, 9, 30, tzinfo=timezone(timedelta(hours=-5)))},
            "not timezone-aware UTC",
        ),
        ({"symbol": ""}, "symbol is empty"),
        ({"open": float("nan")}, "open is nan; prices must be finite"),
        ({"close": float("inf"), "high": float("inf")}, "high is inf"),
        ({"low": -1.0}, "low -1.0 is not positive"),
        ({"open": "99.5"}, "open '99.5' is not a number"),
        ({"volume": -1}, "volume -1 is negative"),
        ({"volume": 1.5}, "not a whole number"),
        ({"volume": True}, "not a whole number"),
        ({"high": 98.0}, "high 98.0 is below low 99.0"),
        ({"close": 101.0}, "open/close outside"),
        ({"vwap": float("nan")}, "vwap is nan"),
        ({"trade_count": -3}, "trade count -3 is negative"),
    ],
)
def test_each_kind_of_bad_bar_is_named(changes: dict[str, Any], problem: str) -> None:
    found = bar_problem(dataclasses.replace(GOOD, **changes))
    assert found is not None
    assert problem in found
