"""Walk-forward windows and objectives (pure): which sessions a window searches and judges on, what
a run scores, and how much of the in-sample score carried over."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from quantterminal.core.models import Bar
from quantterminal.core.research.study_key import data_fingerprint, window_study
from quantterminal.core.research.walk_forward import Window, WindowResult, sessions_of, stitch, windows

DAYS = [date(2011, 1, 3) + timedelta(days=i) for i in range(20)]


def test_rolling_windows_slide_by_the_out_of_sample_length_and_never_overlap_their_judgement() -> None:
    found = windows(DAYS, in_sample=8, out_of_sample=4)
    assert [(w.in_sample[0], w.in_sample[-1], w.out_of_sample[0], w.out_of_sample[-1]) for w in found] == [
        (DAYS[0], DAYS[7], DAYS[8], DAYS[11]),
        (DAYS[4], DAYS[11], DAYS[12], DAYS[15]),
        (DAYS[8], DAYS[15], DAYS[16], DAYS[19]),
    ]
    for w in found:
        assert max(w.in_sample) < min(w.out_of_sample), "never judged on a session it was searched on"
    judged = [d for w in found for d in w.out_of_sample]
    assert len(judged) == len(set(judged)), "each session is out-of-sample once"


def test_anchored_windows_keep_the_first_session_and_limit_keeps_the_latest() -> None:
    anchored = windows(DAYS, 8, 4, anchored=True)
    assert [len(w.in_sample) for w in anchored] == [8, 12, 16]
    assert all(w.in_sample[0] == DAYS[0] for w in anchored)
    latest = windows(DAYS, 8, 4, limit=2)
    assert [w.index for w in latest] == [0, 1]
    assert latest[-1].out_of_sample[-1] == DAYS[19]
    with pytest.raises(ValueError, match="cannot hold one window"):
        windows(DAYS[:10], 8, 4)


def test_degradation_and_the_stitched_out_of_sample_return() -> None:
    w = Window(0, (DAYS[0],), (DAYS[1],))
    assert WindowResult(w, {}, 2.0, 0.5, 0.01, 3, 10).degradation == pytest.approx(0.75)
    assert WindowResult(w, {}, -1.0, 0.5, 0.01, 3, 10).degradation is None, "no positive score to lose"
    assert stitch([0.10, -0.10]) == pytest.approx(-0.01)


def test_a_windows_study_is_named_by_everything_that_decides_its_trials(spy_2011_rth: list[Bar]) -> None:
    bars = {"SPY": spy_2011_rth[:3000]}
    days = sessions_of(bars)
    window = windows(days, 4, 2)[0]
    identity = {"instance": {"name": "m", "params": {"fast": 10}}, "search": {"objective": "sharpe"}}
    name = window_study("opt", window, identity, bars)
    assert name.startswith("opt-w0-")
    assert len(name) == len("opt-w0-") + 12
    assert window_study("opt", window, dict(reversed(identity.items())), bars) == name, "keys in any order"
    changed_bar = [*spy_2011_rth[:3000]]
    changed_bar[10] = replace(changed_bar[10], close=changed_bar[10].close + 0.01)  # inside window 0
    later = [*spy_2011_rth[:3000]]
    later[-1] = replace(later[-1], close=later[-1].close + 0.01)  # after the window: not its data
    assert window_study("opt", window, identity, {"SPY": later}) == name
    others = [
        window_study("opt", window, identity, {"SPY": changed_bar}),
        window_study("opt", window, {**identity, "search": {"objective": "sortino"}}, bars),
        window_study("opt", Window(0, window.in_sample[1:], window.out_of_sample), identity, bars),
        window_study("opt", Window(0, window.in_sample, window.out_of_sample[:1]), identity, bars),
    ]
    assert len({name, *others}) == 5
    assert data_fingerprint(bars) == data_fingerprint({"SPY": tuple(spy_2011_rth[:3000])})
