"""``qterm optimize`` end to end on real bars (SPY 2011, in the repo): a walk-forward search whose
study lives in the real PostgreSQL and is shared by two worker processes; a second run of the same
command joins the study instead of starting over; the promoted configuration is one ``qterm paper``
and ``qterm config check`` take; bad input is one line and exit status 2."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import replace
from pathlib import Path

import optuna
import pytest

from quantterminal.adapters.research.optuna_study import storage_url
from quantterminal.cli.main import main
from quantterminal.cli.optimize import stitched_line
from quantterminal.config.load import load_config
from quantterminal.core.research.walk_forward import score, within
from quantterminal.wiring.optimize import backtest_with, bars_for, optimize
from tests.services import POSTGRES_URL, check_postgres, require

CONFIG = """
[[strategies]]
name = "fast_momentum"
strategy = "momentum"
params = {{ fast = 10, slow = 30 }}

[data]
symbols = ["SPY"]
backtest = "sample:spy_2011"

[optimize]
strategy = "fast_momentum"
objective = "sharpe"
min_trades = 2
trials = {trials}
seed = 11

[optimize.space]
fast = {{ low = 3, high = 15 }}
slow = {{ low = 20, high = 60, step = 10 }}

[optimize.walk_forward]
in_sample = 10
out_of_sample = 5
windows = 2
"""


def config(tmp_path: Path, trials: int = 4) -> Path:
    path = tmp_path / "qt.toml"
    path.write_text(CONFIG.format(trials=trials))
    return path


def test_two_workers_share_one_postgresql_study_and_a_second_run_joins_it(tmp_path: Path) -> None:
    require("PostgreSQL at 127.0.0.1:5432", check_postgres)
    study = f"qt-test-{uuid.uuid4().hex[:8]}"
    loaded = load_config(config(tmp_path))
    report = optimize(loaded, "sample:spy_2011", POSTGRES_URL, study, workers=2)
    assert [w.window.index for w in report.windows] == [0, 1]
    for w in report.windows:
        assert w.trials >= 4
        assert set(w.params) == {"fast", "slow"}
        assert w.out_of_sample is not None or w.oos_trades >= 0
    workers = {row["worker"] for row in report.trials if row["worker"]}
    assert len(workers) == 2, f"both worker processes ran trials: {workers}"
    stored = optuna.load_study(study_name=report.studies[0], storage=storage_url(POSTGRES_URL))
    assert report.studies[0].startswith(f"{study}-w0-")
    assert len(stored.trials) >= 4
    # the same command again (another machine, say) with more trials joins the study: it adds
    # only what is missing
    more = load_config(config(tmp_path, trials=6)).with_overrides()
    again = optimize(more, "sample:spy_2011", POSTGRES_URL, study, workers=1)
    assert again.studies == report.studies
    assert all(6 <= w.trials <= 7 for w in again.windows)
    assert len(optuna.load_study(study_name=report.studies[0], storage=storage_url(POSTGRES_URL)).trials) <= 7


def test_the_command_writes_a_configuration_qterm_paper_takes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    storage = f"sqlite:///{tmp_path / 'study.sqlite3'}"
    assert main(["optimize", "--config", str(config(tmp_path)), "--storage", storage, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "out of sample, stitched" in printed
    assert "trials/s" in printed
    names = ("trials.csv", "walk_forward.csv", "walk_forward.png", "heatmap.png", "in_out_of_sample.png")
    for name in (*names, "best.toml", "manifest.json"):
        assert (out / name).is_file(), name
    best = load_config(out / "best.toml")
    assert any(i.name == "fast_momentum" for i in best.instances)
    assert main(["config", "check", str(out / "best.toml")]) == 0
    assert main(["paper", "--config", str(out / "best.toml"), "--days", "1", "--port", "0",
                 "--database", f"sqlite:///{tmp_path / 'ledger.sqlite3'}"]) == 0  # fmt: skip


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        ('[[strategies]]\nname = "m"\nstrategy = "momentum"\n', [], "no [optimize] section"),
        (CONFIG.format(trials=2).replace("low = 20, high = 60", "low = 60, high = 20"), [], "low <= high"),
        (CONFIG.format(trials=2), ["--storage", "postgresql://nobody:secretpw@127.0.0.1:1/none"], "study storage"),
        (
            CONFIG.format(trials=2).replace('strategy = "fast_momentum"', 'strategy = "nope"'),
            [],
            "not a strategy instance",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, args: list[str], message: str
) -> None:
    path = tmp_path / "qt.toml"
    path.write_text(text)
    storage = args if args else ["--storage", f"sqlite:///{tmp_path / 's.sqlite3'}"]
    out = tmp_path / "out"
    assert main(["optimize", "--config", str(path), *storage, "--trials", "2", "--out", str(out)]) == 2
    assert not out.exists(), "a failed start leaves no output folder behind"
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert message in err
    assert "secretpw" not in err


def test_a_rerun_with_other_windows_never_reuses_a_trial_and_scores_each_window_on_its_own_bars(
    tmp_path: Path,
) -> None:
    """Studies matched by window number alone let a second search with other windows reuse the
    first's trials: its window 0 reported an in-sample score computed on other sessions, some after
    its own out-of-sample window (look-ahead). Keyed by what defines them, each search's studies are
    its own, and every in-sample score is its window's, recomputed here from scratch."""
    storage = f"sqlite:///{tmp_path / 'studies.sqlite3'}"
    first = optimize(load_config(config(tmp_path)), "sample:spy_2011", storage, "leak")
    other = tmp_path / "other.toml"
    other.write_text(CONFIG.format(trials=4).replace("in_sample = 10", "in_sample = 12"))
    loaded = load_config(other)
    second = optimize(loaded, "sample:spy_2011", storage, "leak")
    assert [len(w.window.in_sample) for w in second.windows] == [12, 12]
    assert [len(w.window.in_sample) for w in first.windows] == [10, 10]
    assert not set(first.studies) & set(second.studies)
    assert [w.trials for w in second.windows] == [4, 4], "none of the first search's trials came along"
    spec = loaded.config.optimize
    assert spec is not None
    bars = bars_for("sample:spy_2011", ["SPY"])
    for w in second.windows:
        alone = backtest_with(loaded, spec, w.params, within(bars, w.window.in_sample))
        assert w.in_sample == score(spec.objective, alone.metrics, alone.trades)
    # the same search again (another machine joining, say) finds its own studies, full already
    again = optimize(load_config(other), "sample:spy_2011", storage, "leak")
    assert again.studies == second.studies
    assert [w.trials for w in again.windows] == [4, 4]


HOURLY = """
[[strategies]]
name = "hourly"
strategy = "momentum"
timeframe = "60min"
params = {{ fast = 5, slow = 36 }}

[data]
symbols = ["SPY"]
backtest = "sample:spy_2011"

[optimize]
strategy = "hourly"
objective = "total_return"
min_trades = 1
trials = 3
seed = 5

[optimize.space]
slow = {{ choices = [36, 40] }}

[optimize.walk_forward]
in_sample = 15
out_of_sample = 5
windows = 2
"""


def test_out_of_sample_windows_are_warmed_up_as_live_and_a_window_without_fills_is_flagged(
    tmp_path: Path,
) -> None:
    """On 60-minute bars with slow = 36 or 40, a 5-session window holds ~33 bars: started cold,
    every out-of-sample run stayed in warm-up, never traded, and the stitched line said +0.00%.
    Warmed up on the bars before it (as a rebuilt live strategy is), it acts from its first bar."""
    path = tmp_path / "hourly.toml"
    path.write_text(HOURLY.format())
    loaded = load_config(path)
    spec = loaded.config.optimize
    assert spec is not None
    report = optimize(loaded, "sample:spy_2011", f"sqlite:///{tmp_path / 's.sqlite3'}", "hourly")
    bars = bars_for("sample:spy_2011", ["SPY"])
    for w in report.windows:
        cold = backtest_with(loaded, spec, w.params, within(bars, w.window.out_of_sample))
        assert not cold.fills, "the failure reproduced: cold, the window never trades"
        assert not cold.signals
    assert all(w.oos_fills > 0 and not w.idle for w in report.windows)
    idle = replace(report, windows=[replace(w, oos_fills=0, oos_return=0.0) for w in report.windows])
    assert "over 2 windows (2 of them made no fill: no evidence)" in stitched_line(idle)
    assert "no fill" not in stitched_line(report)


def test_best_toml_of_a_strategy_file_runs_from_any_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``best.toml`` named the strategy file relative to the configuration it came from, so the
    ``qterm paper --config out/opt/best.toml`` it suggests looked for out/opt/strategies/...: the
    paths it writes are absolute (the data's too), and it runs from anywhere."""
    project = tmp_path / "project"
    (project / "strategies").mkdir(parents=True)
    shutil.copy(Path(__file__).parents[1] / "user_strategies" / "channel_trend.py", project / "strategies")
    (project / "qt.toml").write_text(
        CONFIG.format(trials=2)
        .replace('strategy = "momentum"', 'strategy = "strategies/channel_trend.py:ChannelTrend"')
        .replace("fast = 10, slow = 30", "fast = 8, slow = 21")
    )
    monkeypatch.chdir(project)
    storage = f"sqlite:///{tmp_path / 'study.sqlite3'}"
    assert main(["optimize", "--config", "qt.toml", "--storage", storage, "--out", "out/opt"]) == 0
    best = (project / "out" / "opt" / "best.toml").read_text()
    assert f'strategy = "{project / "strategies" / "channel_trend.py"}:ChannelTrend"' in best
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["config", "check", str(project / "out" / "opt" / "best.toml")]) == 0
    loaded = load_config(project / "out" / "opt" / "best.toml")
    assert loaded.instances[0].strategy.__name__ == "ChannelTrend"
