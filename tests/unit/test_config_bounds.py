"""A configuration ``config check`` accepts is one that runs: every value bounded, hostile nesting
refused in one line, validation linear in the number of instances, and each strategy instance
shown a few bars before the file is called ok."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from quantterminal.config.load import ConfigError, from_text

QTERM = [sys.executable, "-m", "quantterminal.cli.main"]
MOMENTUM = '[[strategies]]\nname = "m"\nstrategy = "momentum"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (MOMENTUM + "params = { fast = 5, slow = 99999999999999999999 }\n", "slow = 99999999999999999999"),
        (MOMENTUM + "params = { fast = 5, slow = inf }\n", "finite number"),
        ("[orders]\ncancel_after_seconds = inf\n", "orders.cancel_after_seconds"),
        ("[orders]\ncancel_after_seconds = 1e300\n", "orders.cancel_after_seconds"),
        ("[orders]\nmax_bar_age_seconds = 1e300\n", "orders.max_bar_age_seconds"),
        ("[broker]\ncash = 1e300\n", "broker.cash"),
        ("[risk]\nprice_band_bps = 1e9\n", "risk.price_band_bps"),
        ("x = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    ],
)
def test_an_unbounded_or_hostile_value_is_refused_in_one_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        from_text(text, "cfg.toml", Path.cwd())
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_validation_is_linear_in_the_number_of_instances() -> None:
    n = 5_000
    body = "".join(f'[[strategies]]\nname = "m{i}"\nstrategy = "momentum"\nallocation = 0.0001\n' for i in range(n))
    with pytest.raises(ConfigError, match="m7 named twice"):
        from_text(body + '[[strategies]]\nname = "m7"\nstrategy = "momentum"\n', "big.toml", Path.cwd())


def test_config_check_shows_each_instance_a_few_bars_before_saying_ok(tmp_path: Path) -> None:
    strategy = Path(__file__).parents[1] / "user_strategies" / "fails_on_bars.py"
    config = tmp_path / "qt.toml"
    config.write_text(f'[[strategies]]\nname = "f"\nstrategy = "{strategy}:FailsOnBars"\n', encoding="utf-8")
    done = subprocess.run([*QTERM, "config", "check", str(config)], capture_output=True, text=True, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1
    assert "FailsOnBars fails on its first bars: ZeroDivisionError: float division by zero" in done.stderr
