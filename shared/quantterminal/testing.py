"""Checks for your own strategy (public API): the guarantees every built-in strategy passes.

    from quantterminal.testing import check_strategy, sample_bars
    check_strategy(MyStrategy, {"lookback": 20})   # raises StrategyCheckError, says which bar

What is checked, on real minute bars (the SPY set shipped with QuantTerminal, or yours):

- **restore continues exactly**: stopped at any bar, snapshotted to JSON (what Redis keeps between
  Lambda invocations) and restored, the strategy gives the same answers as one that never stopped;
- **no look-ahead**: changing the bars after a time never changes an answer at or before it --
  also when another run went first (state kept on the class leaks between runs and instances);
- **instances are independent**: two instances fed interleaved bars of two symbols answer as
  each does alone (several instances of one class run side by side in one process);
- **deterministic**: the same bars give the same answers, twice.

A strategy that reads its trade (``uses_trade``) is handed one by a stand-in for the kernel's
books (``StandInBook``): each answer is filled at the next bar's open, 100 shares a direction,
no costs -- so the checks above cover its exits too, and ``run`` gives its answers. The stand-in
fills a ``Wanted`` at the open like any answer: its stop or limit is the kernel's to work
(``qterm backtest`` runs them through the simulated venue).
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from itertools import pairwise
from typing import Any

from quantterminal.adapters.market_data.csv_bars import load_bars, resolve_source
from quantterminal.core.market_data.calendar import SessionRule
from quantterminal.core.models import Bar, Direction
from quantterminal.core.money import ZERO, to_decimal
from quantterminal.core.strategies.base import Strategy, parse_params
from quantterminal.core.strategies.trade_view import TradeView, trade_view
from quantterminal.core.strategies.wanted import Wanted, direction_of

Answers = list[Direction | Wanted | None]


class StrategyCheckError(AssertionError):
    """A strategy broke one of the guarantees (the message says which, and at which bar)."""


@dataclass(frozen=True)
class StrategyReport:
    """What the checks saw: bars fed, answers given (not ``None``), direction changes."""

    bars: int
    answers: int
    changes: int


def sample_bars(symbol: str = "SPY", limit: int = 3000, source: str = "sample:spy_2011") -> list[Bar]:
    """Real minute bars of ``symbol`` (regular hours) from a shipped sample set, or any ``--data`` source."""
    bars = load_bars(resolve_source(source), symbols=[symbol])[symbol.upper()]
    regular = SessionRule().in_regular_session
    return [b for b in bars if regular(b.timestamp)][:limit]


class StandInBook:
    """The kernel's books, simplified for checking a strategy that reads its trade: the answer to
    one bar is filled at the next bar's open, ``shares`` a direction, no costs, nothing refused."""

    def __init__(self, shares: int = 100) -> None:
        self.shares = shares
        self.qty = 0
        self.entry: Decimal | None = None
        self.opened: datetime | None = None
        self.realized = ZERO
        self.wanted: Direction | None = None  # the last answer's direction, filled at the next bar's open

    def fill_at_open(self, bar: Bar) -> None:
        """Trade to the last answer at ``bar``'s open."""
        if self.wanted is None:
            return
        target = self.wanted.sign * self.shares
        if target == self.qty:
            return
        price = to_decimal(bar.open)
        if self.qty and self.entry is not None:
            self.realized += self.qty * (price - self.entry)
        self.qty = target
        self.entry, self.opened = (price, bar.timestamp) if target else (None, None)

    def view(self, bar: Bar) -> TradeView:
        """What the strategy sees at ``bar``'s close."""
        return trade_view(self.qty, self.entry, self.opened, self.realized, to_decimal(bar.close))

    def step(self, strategy: Strategy, bar: Bar) -> Direction | Wanted | None:
        """``bar`` through the book and the strategy, as the kernel takes it."""
        self.fill_at_open(bar)
        strategy.see(self.view(bar))
        answer = strategy.on_bar(bar)
        self.wanted = direction_of(answer)
        return answer


def run(strategy: Strategy, bars: Sequence[Bar], book: StandInBook | None = None) -> Answers:
    """The strategy's answers to ``bars``, in order (one that reads its trade: through ``book``,
    a fresh ``StandInBook`` if none is given)."""
    if not strategy.uses_trade:
        return [strategy.on_bar(b) for b in bars]
    book = book if book is not None else StandInBook()
    return [book.step(strategy, b) for b in bars]


def check_strategy(
    strategy: type[Strategy],
    params: Mapping[str, Any] | None = None,
    bars: Sequence[Bar] | None = None,
    splits: int = 12,
    seed: int = 7,
) -> StrategyReport:
    """Run every check (see the module docs) and return what was seen; raise on the first failure."""
    values = parse_params(strategy.params_type, params or {})
    bars = list(bars) if bars is not None else sample_bars()
    if len(bars) < 10:
        raise ValueError("check_strategy needs at least 10 bars")
    symbol = bars[0].symbol
    whole = run(strategy(symbol, values), bars)
    odd = next((i for i, a in enumerate(whole) if a is not None and not isinstance(a, (Direction, Wanted))), None)
    if odd is not None:
        raise StrategyCheckError(
            f"{strategy.__name__}: at bar {odd} it answered {whole[odd]!r}; an answer is a Direction, a Wanted or None"
        )
    if run(strategy(symbol, values), bars) != whole:
        raise StrategyCheckError(f"{strategy.__name__}: the same bars gave different answers on a second run")
    rng = random.Random(seed)
    cuts = sorted({1, len(bars) - 1, *(rng.randrange(1, len(bars)) for _ in range(splits))})
    for cut in cuts:
        _check_restore(strategy, values, bars, whole, cut)
        _check_no_look_ahead(strategy, values, bars, whole, cut)
    _check_independent(strategy, values, bars, whole)
    directions = [direction_of(a) for a in whole]
    changes = sum(1 for a, b in pairwise(directions) if b is not None and a is not b)
    return StrategyReport(len(bars), sum(a is not None for a in directions), changes)


def _check_restore(strategy: type[Strategy], values: Any, bars: Sequence[Bar], whole: Answers, cut: int) -> None:
    first = strategy(bars[0].symbol, values)
    book = StandInBook()  # the kernel's books outlive the strategy object: they carry on
    before = run(first, bars[:cut], book)
    try:
        stored = json.dumps(first.snapshot(), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StrategyCheckError(f"{strategy.__name__}: snapshot after bar {cut} is not plain JSON: {exc}") from None
    after = run(type(first).restore(json.loads(stored)), bars[cut:], book)
    _same(strategy, "restored at bar " + str(cut), whole, before + after)


def _check_no_look_ahead(strategy: type[Strategy], values: Any, bars: Sequence[Bar], whole: Answers, cut: int) -> None:
    changed = [*bars[:cut], *(_perturbed(b) for b in bars[cut:])]
    run(strategy(bars[0].symbol, values), changed)  # a run on another future goes first
    answers = run(strategy(bars[0].symbol, values), changed)
    if answers[:cut] != whole[:cut]:
        bad = next(i for i, (a, b) in enumerate(zip(answers[:cut], whole[:cut], strict=True)) if a != b)
        raise StrategyCheckError(
            f"{strategy.__name__}: look-ahead -- its answer at bar {bad} ({bars[bad].timestamp.isoformat()}) changed"
            f" when only bars from {bars[cut].timestamp.isoformat()} on were changed"
        )


def _check_independent(strategy: type[Strategy], values: Any, bars: Sequence[Bar], whole: Answers) -> None:
    other = [replace(_perturbed(b), symbol=b.symbol + "X") for b in bars]
    alone = run(strategy(other[0].symbol, values), other)
    a, b = strategy(bars[0].symbol, values), strategy(other[0].symbol, values)
    book_a, book_b = StandInBook(), StandInBook()
    together_a, together_b = [], []
    for x, y in zip(bars, other, strict=True):
        together_a.append(book_a.step(a, x) if a.uses_trade else a.on_bar(x))
        together_b.append(book_b.step(b, y) if b.uses_trade else b.on_bar(y))
    _same(strategy, "run beside another instance", whole, together_a)
    _same(strategy, "run beside another instance", alone, together_b)


def _same(strategy: type[Strategy], how: str, expected: Answers, got: Answers) -> None:
    if got != expected:
        bad = next(i for i, (x, y) in enumerate(zip(got, expected, strict=False)) if x != y)
        raise StrategyCheckError(
            f"{strategy.__name__}: {how}, it answered {got[bad]} at bar {bad} where it answers"
            f" {expected[bad]} otherwise"
        )


def _perturbed(b: Bar) -> Bar:
    scale = 0.97 if (b.timestamp.minute % 2) else 1.03
    o, c = round(b.open * scale, 2), round(b.close * scale * 1.001, 2)
    return replace(b, open=o, close=c, high=max(o, c, round(b.high * scale, 2)), low=min(o, c, round(b.low * scale, 2)))
