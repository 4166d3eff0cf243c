"""Strategies: their rules against naive reference implementations, warm-up, parameters, and
snapshot/restore continuation on real data."""

from __future__ import annotations

import json
import statistics
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantterminal.core.market_data.calendar import SessionRule, is_trading_day
from quantterminal.core.models import Bar, Direction
from quantterminal.core.strategies import (
    STRATEGIES,
    MeanReversion,
    MeanReversionParams,
    Momentum,
    MomentumParams,
    StrategyError,
    StrategyInstance,
    VolatilityBreakout,
    VolatilityBreakoutParams,
    build_params,
    restore_strategy,
)
from quantterminal.core.strategies.base import ParamsChanged
from quantterminal.core.trading.answers import answer, warm_up, warmup_window
from quantterminal.examples.stop_breakout import StopBreakout
from tests.helpers import bar, bars_from_closes

LONG, FLAT, SHORT = Direction.LONG, Direction.FLAT, Direction.SHORT
walk = st.lists(st.integers(-30, 30), min_size=1, max_size=150).map(
    lambda steps: [100.0 + sum(steps[: i + 1]) * 0.05 for i in range(len(steps))]
)


def run(strategy: Any, bars: list[Bar]) -> list[Direction | None]:
    return [strategy.on_bar(b) for b in bars]


# --- momentum -------------------------------------------------------------------------------


def naive_momentum(closes: list[float], fast: int, slow: int, allow_short: bool) -> list[Direction | None]:
    out: list[Direction | None] = []
    for i in range(len(closes)):
        if i + 1 < slow:
            out.append(None)
            continue
        f = sum(closes[i + 1 - fast : i + 1]) / fast
        s = sum(closes[i + 1 - slow : i + 1]) / slow
        if abs(f - s) < 1e-9:  # too close to call in floating point: not compared
            out.append(None)
        elif f > s:
            out.append(LONG)
        else:
            out.append(SHORT if allow_short else FLAT)
    return out


@given(walk, st.booleans())
def test_momentum_matches_naive_crossover(closes: list[float], allow_short: bool) -> None:
    got = run(Momentum("SPY", MomentumParams(fast=3, slow=8, allow_short=allow_short)), bars_from_closes(closes))
    want = naive_momentum(closes, 3, 8, allow_short)
    assert got[:7] == [None] * min(7, len(closes))
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        if w is not None:
            assert g is w, f"bar {i}"


def test_momentum_defaults_and_warm_up_on_real_data(spy_2011_rth: list[Bar]) -> None:
    strategy = Momentum("SPY")
    out = run(strategy, spy_2011_rth[:200])
    assert out[:29] == [None] * 29, "no signal before SMA(30) is warm"
    assert all(d in (LONG, FLAT) for d in out[29:]), "long-only by default"
    assert {LONG, FLAT} <= set(out[29:])


# --- mean reversion ----------------------------------------------------------------------------


def naive_mean_reversion(closes: list[float], n: int, k: float, allow_short: bool) -> list[Direction | None]:
    out: list[Direction | None] = []
    wanted = FLAT
    for i in range(len(closes)):
        if i + 1 < n:
            out.append(None)
            continue
        window = closes[i + 1 - n : i + 1]
        mid = statistics.fmean(window)
        sd = statistics.pstdev(window)
        c = closes[i]
        if (wanted is LONG and c >= mid) or (wanted is SHORT and c <= mid):
            wanted = FLAT
        elif wanted is FLAT and c < mid - k * sd:
            wanted = LONG
        elif wanted is FLAT and allow_short and c > mid + k * sd:
            wanted = SHORT
        out.append(wanted)
    return out


@given(walk, st.booleans())
def test_mean_reversion_matches_naive_bollinger_rules(closes: list[float], allow_short: bool) -> None:
    params = MeanReversionParams(period=6, num_std=1.2, allow_short=allow_short)
    got = run(MeanReversion("SPY", params), bars_from_closes(closes))
    assert got == naive_mean_reversion(closes, 6, 1.2, allow_short)


def test_mean_reversion_enters_below_lower_band_and_exits_at_middle() -> None:
    closes = [100.0] * 19 + [100.0, 95.0, 96.0, 99.0, 101.0]
    out = run(MeanReversion("SPY"), bars_from_closes(closes))
    assert out[:19] == [None] * 19
    assert out[19] is FLAT
    assert out[20] is LONG  # 95 is far below 2σ of a flat window
    assert out[21] is LONG  # 96 is still below the middle
    assert out[23] is FLAT  # 101 ≥ middle: exit


# --- volatility breakout -----------------------------------------------------------------------


def naive_breakout(
    highs: list[float], lows: list[float], closes: list[float], entry: int, exit_: int, allow_short: bool
) -> list[Direction | None]:
    out: list[Direction | None] = []
    wanted = FLAT
    for i in range(len(closes)):
        if i < max(entry, exit_):
            out.append(None)
            continue
        c = closes[i]
        if (wanted is LONG and c < min(lows[i - exit_ : i])) or (wanted is SHORT and c > max(highs[i - exit_ : i])):
            wanted = FLAT
        elif wanted is FLAT and c > max(highs[i - entry : i]):
            wanted = LONG
        elif wanted is FLAT and allow_short and c < min(lows[i - entry : i]):
            wanted = SHORT
        out.append(wanted)
    return out


@given(walk, st.booleans(), st.integers(1, 12), st.integers(1, 12))
def test_breakout_matches_naive_channel_rules(closes: list[float], allow_short: bool, entry: int, exit_: int) -> None:
    bars = [bar(i, c, high=c + 0.03 * (i % 4), low=c - 0.02 * (i % 5)) for i, c in enumerate(closes)]
    params = VolatilityBreakoutParams(entry=entry, exit=exit_, allow_short=allow_short)
    got = run(VolatilityBreakout("SPY", params), bars)
    want = naive_breakout([b.high for b in bars], [b.low for b in bars], closes, entry, exit_, allow_short)
    assert got == want


def test_breakout_excludes_the_current_bar_from_the_channel() -> None:
    # 20 bars with high 101, then a bar closing at 102 with high 102: it breaks the *previous* high.
    bars = [bar(i, 100.0, high=101.0, low=99.0) for i in range(20)] + [bar(20, 102.0, high=102.0, low=100.0)]
    out = run(VolatilityBreakout("SPY"), bars)
    assert out[:20] == [None] * 20
    assert out[20] is LONG


# --- parameters ---------------------------------------------------------------------------------


def test_params_are_overridable_from_strings() -> None:
    params = build_params("momentum", {"fast": "5", "slow": "20", "allow_short": "true"})
    assert params == MomentumParams(fast=5, slow=20, allow_short=True)
    assert build_params("mean_reversion", {"num_std": "2.5"}) == MeanReversionParams(num_std=2.5)


@pytest.mark.parametrize(
    ("name", "overrides", "message"),
    [
        ("momentum", {"speed": "3"}, "unknown parameter 'speed'"),
        ("momentum", {"fast": "ten"}, "must be int"),
        ("momentum", {"fast": "30", "slow": "10"}, "must be shorter"),
        ("momentum", {"allow_short": "maybe"}, "true or false"),
        ("mean_reversion", {"num_std": "-1"}, "num_std must be > 0"),
        ("volatility_breakout", {"entry": "0"}, "must be >= 1"),
        ("nope", {}, "unknown strategy 'nope'"),
    ],
)
def test_bad_params_are_refused_clearly(name: str, overrides: dict[str, str], message: str) -> None:
    with pytest.raises(StrategyError, match=message):
        build_params(name, overrides)


# --- snapshot / restore --------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(STRATEGIES))
@pytest.mark.parametrize("allow_short", [False, True])
@given(data=st.data())
def test_restored_strategy_continues_exactly_on_real_data(
    name: str, allow_short: bool, spy_2011_rth: list[Bar], data: st.DataObject
) -> None:
    bars = spy_2011_rth[:1500]
    split = data.draw(st.integers(0, len(bars)), label="split")
    cls = STRATEGIES[name]
    params = build_params(name, {"allow_short": allow_short})
    uninterrupted = run(cls("SPY", params), bars)

    first = cls("SPY", params)
    before = run(first, bars[:split])
    stored = json.dumps(first.snapshot())  # what Redis keeps between Lambda invocations
    resumed = restore_strategy(json.loads(stored))
    after = run(resumed, bars[split:])

    assert before + after == uninterrupted
    assert resumed.params == params


def test_restore_refuses_unknown_version_and_other_strategy() -> None:
    snap = Momentum("SPY").snapshot()
    with pytest.raises(StrategyError, match="unsupported strategy snapshot version 99"):
        Momentum.restore({**snap, "version": 99})
    with pytest.raises(StrategyError, match="snapshot is of strategy 'momentum', not 'mean_reversion'"):
        MeanReversion.restore(snap)
    with pytest.raises(StrategyError, match="unknown strategy"):
        restore_strategy({**snap, "strategy": "gone"})


# --- parameters live in the configuration, state in snapshots -----------------------------------


def test_a_snapshot_is_not_restored_under_other_parameters(spy_2011_rth: list[Bar]) -> None:
    old = Momentum("SPY", MomentumParams(fast=3, slow=8))
    run(old, spy_2011_rth[:50])
    snapshot = json.loads(json.dumps(old.snapshot()))
    with pytest.raises(ParamsChanged, match="configured"):
        Momentum.restore(snapshot, MomentumParams(fast=5, slow=20))
    assert Momentum.restore(snapshot, MomentumParams(fast=3, slow=8)).params == MomentumParams(fast=3, slow=8)


def test_a_retuned_instance_is_rebuilt_and_warmed_up_to_a_fresh_strategys_answers(spy_2011_rth: list[Bar]) -> None:
    """Given a snapshot taken under fast=3/slow=8, when the configured instance says 5/20, then its
    answers from the next bar on are those of a strategy that ran with 5/20 from the start."""
    bars = spy_2011_rth[:400]
    old = StrategyInstance.of(Momentum, params={"fast": 3, "slow": 8})
    snapshot = warm_up(old, bars[:300])
    assert snapshot is not None
    retuned = StrategyInstance.of(Momentum, params={"fast": 5, "slow": 20})
    fresh = run(Momentum("SPY", MomentumParams(fast=5, slow=20)), bars)

    consumed = answer(retuned, bars[300], snapshot, history=lambda instance, bar: bars[:300])

    assert consumed.rebuilt == 300
    assert consumed.wanted is fresh[300]
    assert consumed.snapshot is not None
    assert consumed.snapshot["params"]["slow"] == 20
    answers = []
    state = consumed.snapshot
    for b in bars[301:]:
        c = answer(retuned, b, state)
        assert c.rebuilt is None  # rebuilt once: the saved snapshot has the configured parameters
        answers.append(c.wanted)
        state = c.snapshot
    assert answers == fresh[301:]


def test_the_warm_up_keeps_to_the_instances_session(sample_root: Path) -> None:
    """A regular-session strategy is warmed up on the regular session's bars only, as it traded."""
    from quantterminal.adapters.market_data.csv_bars import load_bars

    every = load_bars(sample_root / "lean_2013")["SPY"][:2000]  # pre- and post-market bars included
    regular = SessionRule().in_regular_session
    instance = StrategyInstance.of(Momentum, params={"fast": 3, "slow": 8})
    assert any(not regular(b.timestamp) for b in every)
    assert warm_up(instance, every) == warm_up(instance, [b for b in every if regular(b.timestamp)])
    extended = replace(instance, session="extended")
    assert warm_up(extended, every) != warm_up(extended, [b for b in every if regular(b.timestamp)])


def test_an_instance_given_another_strategy_class_is_rebuilt_not_broken(spy_2011_rth: list[Bar]) -> None:
    snapshot = warm_up(StrategyInstance.of(Momentum, name="trend"), spy_2011_rth[:100])
    assert snapshot is not None
    now_reverting = StrategyInstance.of(MeanReversion, name="trend")
    consumed = answer(now_reverting, spy_2011_rth[100], snapshot, history=lambda i, b: spy_2011_rth[:100])
    assert consumed.rebuilt == 100
    assert consumed.snapshot is not None
    assert consumed.snapshot["strategy"] == "mean_reversion"


def test_a_retuned_instance_without_stored_bars_starts_cold(spy_2011_rth: list[Bar]) -> None:
    old = StrategyInstance.of(Momentum, params={"fast": 3, "slow": 8})
    snapshot = warm_up(old, spy_2011_rth[:100])
    retuned = StrategyInstance.of(Momentum, params={"fast": 5, "slow": 20})
    consumed = answer(retuned, spy_2011_rth[100], snapshot)
    assert consumed.rebuilt == 0
    assert consumed.wanted is None  # warming up again, never deciding with the old parameters' state


def test_the_warm_up_window_holds_enough_sessions_for_the_strategys_bars() -> None:
    daily = replace(StrategyInstance.of(Momentum, params={"fast": 10, "slow": 40}), timeframe="1day")
    before = datetime(2013, 10, 11, 14, 0, tzinfo=UTC)
    start, end = warmup_window(daily, before)
    assert end == before
    sessions = [d for d in (start.date() + timedelta(days=i) for i in range((end - start).days)) if is_trading_day(d)]
    assert len(sessions) >= daily.warmup_bars == 160


def test_a_redelivered_bar_gets_the_order_terms_its_answer_had(spy_2011_rth: list[Bar]) -> None:
    """The snapshot records a ``Wanted`` answer's terms with the answer: a bar delivered again (a
    Kinesis retry) is acted on with the same stop, so the same order id finds the same order."""
    instance = StrategyInstance.of(StopBreakout, params={"entry_bars": 5, "exit_bars": 3})
    snapshot = None
    for b in spy_2011_rth[:10]:
        first = answer(instance, b, snapshot)
        snapshot = json.loads(json.dumps(first.snapshot))  # as Redis keeps it
    assert first.new
    assert first.terms is not None
    assert first.terms.stop == round(max(b.high for b in spy_2011_rth[5:10]) + 0.01, 2)
    again = answer(instance, spy_2011_rth[9], snapshot)
    assert (again.new, again.wanted, again.snapshot) == (False, LONG, None)
    assert again.terms is not None
    assert again.terms.same_as(first.terms)
    assert again.terms.state() == first.terms.state() == {"stop": str(first.terms.stop), "limit": None, "tif": "day"}
