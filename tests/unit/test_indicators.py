"""Indicators against naive reference computations, and exact snapshot/restore continuation."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from quantterminal.core.strategies.indicators import ATR, EMA, SMA, Highest, Lowest, RateOfChange, RollingStd

prices = st.lists(st.floats(min_value=0.5, max_value=2000.0, allow_nan=False), min_size=1, max_size=120)
periods = st.integers(min_value=1, max_value=25)


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def naive_sma(xs: list[float], n: int, i: int) -> float | None:
    return sum(xs[i + 1 - n : i + 1]) / n if i + 1 >= n else None


def naive_std(xs: list[float], n: int, i: int, ddof: int) -> float | None:
    if i + 1 < n:
        return None
    window = xs[i + 1 - n : i + 1]
    return statistics.pstdev(window) if ddof == 0 else statistics.stdev(window)


def naive_ema(xs: list[float], n: int, i: int) -> float | None:
    if i + 1 < n:
        return None
    value = sum(xs[:n]) / n
    alpha = 2 / (n + 1)
    for x in xs[n : i + 1]:
        value = alpha * x + (1 - alpha) * value
    return value


@given(prices, periods)
def test_sma_matches_mean_of_window(xs: list[float], n: int) -> None:
    sma = SMA(n)
    for i, x in enumerate(xs):
        assert close(sma.update(x), naive_sma(xs, n, i))
    assert sma.ready == (len(xs) >= n)


@given(prices, periods)
def test_ema_matches_recursive_definition_seeded_with_sma(xs: list[float], n: int) -> None:
    ema = EMA(n)
    for i, x in enumerate(xs):
        assert close(ema.update(x), naive_ema(xs, n, i))


@given(prices, st.integers(min_value=2, max_value=25), st.sampled_from([0, 1]))
@example(xs=[545.6654895798474, 1.25, 1.25, 1.25], n=3, ddof=0)  # an outlier leaving the window
def test_rolling_std_matches_statistics(xs: list[float], n: int, ddof: int) -> None:
    std = RollingStd(n, ddof=ddof)
    for i, x in enumerate(xs):
        got = std.update(x)
        want = naive_std(xs, n, i, ddof)
        if want is None:
            assert got is None
        else:
            assert got is not None
            assert math.isclose(got, want, rel_tol=1e-7, abs_tol=1e-7)
            mean = naive_sma(xs, n, i)
            assert mean is not None
            assert std.mean is not None
            assert math.isclose(std.mean, mean, rel_tol=1e-12)


@given(prices, periods)
def test_highest_and_lowest_match_max_and_min_of_window(xs: list[float], n: int) -> None:
    hi, lo = Highest(n), Lowest(n)
    for i, x in enumerate(xs):
        want_hi = max(xs[i + 1 - n : i + 1]) if i + 1 >= n else None
        want_lo = min(xs[i + 1 - n : i + 1]) if i + 1 >= n else None
        assert hi.update(x) == want_hi
        assert lo.update(x) == want_lo


@given(prices, periods)
def test_rate_of_change_is_fractional_change_over_period(xs: list[float], n: int) -> None:
    roc = RateOfChange(n)
    for i, x in enumerate(xs):
        want = x / xs[i - n] - 1 if i >= n else None
        assert close(roc.update(x), want)


@given(
    st.lists(st.tuples(st.floats(1, 500), st.floats(0, 20), st.floats(0, 1)), min_size=1, max_size=80),
    periods,
)
def test_atr_matches_wilder_reference(rows: list[tuple[float, float, float]], n: int) -> None:
    bars = [(low + rng, low, low + rng * pos) for low, rng, pos in rows]  # (high, low, close)
    trs: list[float] = []
    prev_close: float | None = None
    atr = ATR(n)
    want: float | None = None
    for high, low, c in bars:
        tr = high - low if prev_close is None else max(high - low, abs(high - prev_close), abs(low - prev_close))
        trs.append(tr)
        prev_close = c
        if len(trs) == n:
            want = sum(trs) / n
        elif len(trs) > n:
            assert want is not None
            want = (want * (n - 1) + tr) / n
        assert close(atr.update(high, low, c), want)


def test_sma_does_not_drift_over_a_million_updates() -> None:
    """The running sum is re-summed exactly once per window, so error stays at one window's worth."""
    sma = SMA(30)
    xs = [100.0 + (i % 97) * 0.01 + (i % 13) * 0.1 for i in range(1_000_000)]
    for x in xs:
        sma.update(x)
    assert sma.value == pytest.approx(sum(xs[-30:]) / 30, rel=1e-13)


def _feed(ind: Any, x: float) -> float | None:
    if isinstance(ind, ATR):
        return ind.update(x + 1.0, x - 1.0, x)
    result: float | None = ind.update(x)
    return result


FACTORIES: list[Callable[[], Any]] = [
    lambda: SMA(7),
    lambda: EMA(7),
    lambda: RollingStd(7),
    lambda: RollingStd(7, ddof=1),
    lambda: Highest(7),
    lambda: Lowest(7),
    lambda: ATR(7),
    lambda: RateOfChange(7),
]


@pytest.mark.parametrize("factory", FACTORIES)
@given(xs=st.lists(st.floats(1, 1000), min_size=0, max_size=60), data=st.data())
def test_restored_indicator_continues_bit_for_bit(
    factory: Callable[[], Any], xs: list[float], data: st.DataObject
) -> None:
    split = data.draw(st.integers(0, len(xs)))
    original = factory()
    for x in xs[:split]:
        _feed(original, x)
    restored = factory()
    restored.restore(json.loads(json.dumps(original.snapshot())))
    for x in xs[split:]:
        assert _feed(restored, x) == _feed(original, x)
    assert restored.snapshot() == original.snapshot()


def test_restore_refuses_a_snapshot_of_another_indicator() -> None:
    with pytest.raises(ValueError, match=r"snapshot is for sma\(7\), not ema\(7\)"):
        EMA(7).restore(SMA(7).snapshot())
    with pytest.raises(ValueError, match=r"not sma\(8\)"):
        SMA(8).restore(SMA(7).snapshot())


@pytest.mark.parametrize("period", [0, -1, 2.5, True])
def test_bad_period_is_refused(period: Any) -> None:
    with pytest.raises(ValueError, match="period must be an integer"):
        SMA(period)
