"""``qterm new-strategy NAME``: a commented strategy template and a test file the user can run."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

DESCRIPTION = (
    "Write NAME.py (a commented strategy: parameters, warm-up, state snapshot/restore) and "
    "test_NAME.py (pytest: the checks every built-in strategy passes, on real bars) into --dir. "
    "Run it with: qterm backtest --strategy NAME.py:CLASS, or name it in a configuration file."
)
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

TEMPLATE = '''"""{title}: a QuantTerminal strategy.

Run it:      qterm backtest --strategy {name}.py:{cls} --param lookback=30
Check it:    pytest test_{name}.py
Deploy it:   name it in your configuration file -- [[strategies]] strategy = "{name}.py:{cls}"
"""

from __future__ import annotations

import dataclasses
from typing import Any

from quantterminal import Bar, Direction, Strategy, StrategyError, StrategyParams
from quantterminal.indicators import SMA


@dataclasses.dataclass(frozen=True)
class {cls}Params(StrategyParams):
    """The parameters: every field needs a default; `qterm ... --param lookback=30` and the
    configuration file's `params` override them (values are checked in `validate`)."""

    lookback: int = 20

    def validate(self) -> None:
        if self.lookback < 2:
            raise StrategyError(f"{name}: lookback must be >= 2, got {{self.lookback}}")


class {cls}(Strategy):
    """Long while the close is above its {{lookback}}-bar average, flat (or short, with
    allow_short) below it.

    One object serves one symbol. `on_bar` gets each *closed* bar once, in time order, and answers
    the direction it wants now, or None while warming up: it cannot see a later bar (no
    look-ahead), and must not read anything but the bar (no clock, no files, no network).
    """

    name = "{name}"  # stored with every snapshot
    params_type = {cls}Params
    params: {cls}Params
    # The bar size on_bar decides on: "1min", "5min", "15min", "30min", "60min" or "1day", built
    # from minute bars the same way in backtest, paper and the Lambdas (session-aligned); a
    # configuration's `timeframe` overrides it per instance.
    timeframe = "1min"

    def __init__(self, symbol: str, params: {cls}Params | None = None) -> None:
        super().__init__(symbol, params)
        self._average = SMA(self.params.lookback)  # indicators keep their state as plain data

    def on_bar(self, bar: Bar) -> Direction | None:
        average = self._average.update(bar.close)
        if average is None:
            return None  # warming up: not enough bars yet
        if bar.close > average:
            return Direction.LONG
        return Direction.SHORT if self.params.allow_short else Direction.FLAT

    # Live, a Lambda may run each bar in a new process: the strategy's state is saved after every
    # bar (`_state`, plain JSON) and loaded before the next (`_load_state`). Everything that
    # changes as bars arrive must be in it, or a restored strategy decides differently.
    def _state(self) -> dict[str, Any]:
        return {{"average": self._average.snapshot()}}

    def _load_state(self, state: dict[str, Any]) -> None:
        self._average.restore(state["average"])
'''

TEST_TEMPLATE = '''"""Tests for {cls}: run with `pytest test_{name}.py`."""

from __future__ import annotations

import pytest

from quantterminal import Direction
from quantterminal.testing import check_strategy, run, sample_bars
from {name} import {cls}


def test_the_guarantees_every_strategy_keeps() -> None:
    """Restored from a snapshot it carries on exactly; no look-ahead; instances are independent."""
    report = check_strategy({cls}, {{"lookback": 20}})
    assert report.answers > 0


def test_it_trades_on_real_bars() -> None:
    answers = run({cls}("SPY"), sample_bars("SPY", limit=1000))
    assert Direction.LONG in answers


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="lookback"):
        check_strategy({cls}, {{"lookback": 1}})
'''


def register(parser: argparse.ArgumentParser) -> None:
    """The options of ``qterm new-strategy``."""
    parser.add_argument("name", help="the strategy's name: lowercase letters, digits and _ (e.g. my_trend)")
    parser.add_argument("--dir", type=Path, default=Path("."), help="where to write the files (default: here)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Handle ``qterm new-strategy``."""
    name = args.name
    if not NAME.match(name):
        print(
            f"qterm new-strategy: error: {name!r}: use lowercase letters, digits and _ (letter first)", file=sys.stderr
        )
        return 2
    cls = "".join(part.capitalize() for part in name.split("_") if part)
    files = {args.dir / f"{name}.py": TEMPLATE, args.dir / f"test_{name}.py": TEST_TEMPLATE}
    existing = [str(p) for p in files if p.exists()]
    if existing:
        print(f"qterm new-strategy: error: {', '.join(existing)} already exists; nothing written", file=sys.stderr)
        return 2
    args.dir.mkdir(parents=True, exist_ok=True)
    title = name.replace("_", " ").capitalize()
    for path, template in files.items():
        path.write_text(template.format(name=name, cls=cls, title=title), encoding="utf-8")
        print(f"wrote {path}")
    print(f"next: cd {args.dir} && pytest test_{name}.py && qterm backtest --strategy {name}.py:{cls}")
    return 0
