"""A strategy's answer to a bar, from the snapshot it was saved as: what every environment that
keeps strategies in the state store (the Lambdas, the paper run) does for each bar.

The snapshot remembers the last bar consumed and the answer given, so a redelivered bar (Kinesis
retries a batch; a Lambda crashed after saving) is not fed to the indicators twice, and the
decision it led to can still be carried out. For a strategy deciding on bars longer than a minute
it also holds the bar in the making and the answer to the last one completed.

Parameters live in the configuration, state in snapshots. A snapshot taken under other parameters
than the instance's (a retuned ``best.toml`` deployed, a paper run restarted on a persistent Redis
with an edited file) is not restored: the strategy is rebuilt with the configured parameters and
warmed up again on the bars before this one that the ledger holds (``WarmUpBars``), then answers
this bar as a strategy that had run with those parameters all along would. ``Consumed.rebuilt``
says so, and the host logs it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from quantterminal.core.market_data.calendar import SessionRule, is_trading_day
from quantterminal.core.market_data.ports import MarketHistory
from quantterminal.core.market_data.sessions import day_bounds, session_date
from quantterminal.core.market_data.timeframes import (
    ONE_MINUTE,
    SESSION_MINUTES,
    TimeframeBars,
    bar_from_state,
    bar_state,
    minutes_in,
)
from quantterminal.core.models import Bar, Direction
from quantterminal.core.strategies import StrategyInstance
from quantterminal.core.strategies.trade_view import TradeView
from quantterminal.core.strategies.wanted import Wanted

# the bars before ``bar`` (oldest first) to warm a rebuilt ``instance`` up on: minute bars, as stored
WarmUpBars = Callable[[StrategyInstance, Bar], Sequence[Bar]]

_LAST_BAR = "last_bar"  # in a stored strategy snapshot: the last bar consumed and the answer given
_BUILDING = "building"  # in a stored strategy snapshot: the longer bar being built from minutes
_STANDING = "standing"  # in a stored strategy snapshot: the answer to the last longer bar completed


@dataclass(frozen=True)
class Consumed:
    """A strategy's answer to a bar: the direction it wants (``None``: none yet), whether the bar
    was new to it, the snapshot to save (``None``: nothing changed) and, for a strategy deciding on
    longer bars than a minute, the bar the answer is about (``None``: the minute bar itself)."""

    wanted: Direction | None
    new: bool
    snapshot: dict[str, Any] | None = None
    bar: Bar | None = None
    rebuilt: int | None = None  # the snapshot's parameters were not the configured ones: warmed up on this many bars
    terms: Wanted | None = None  # the order the strategy wants to get there with (``None``: the configuration's)


def answer(
    instance: StrategyInstance,
    bar: Bar,
    snapshot: dict[str, Any] | None,
    history: WarmUpBars | None = None,
    trade: TradeView | None = None,
) -> Consumed:
    """``instance``'s answer to ``bar``, restored from ``snapshot``; the snapshot to save comes
    back with it and must be saved before the answer is acted on. A snapshot taken under other
    parameters is replaced by a strategy with the configured ones, warmed up on ``history``'s
    bars (none given: it starts cold and warms up on the bars to come). ``trade``: what the
    strategy sees of its trade at this bar's close (a strategy that ``uses_trade``; warming up,
    it sees none: the kernel's books hold no past positions bar by bar)."""
    if snapshot is not None and not instance.matches(snapshot):
        warm = [] if history is None else [b for b in history(instance, bar) if b.timestamp < bar.timestamp]
        rebuilt = warm_up(instance, warm)
        consumed = _answer(instance, bar, rebuilt, trade)
        return replace(consumed, rebuilt=len(warm))
    return _answer(instance, bar, snapshot, trade)


def warm_up(instance: StrategyInstance, bars: Sequence[Bar]) -> dict[str, Any] | None:
    """The snapshot of a fresh strategy of ``instance`` fed those of ``bars`` it sees (oldest first;
    the session rule applies as in trading; ``None``: no bars)."""
    sessions = SessionRule()
    snapshot: dict[str, Any] | None = None
    for bar in bars:
        if sessions.sees(instance.session, bar.timestamp):
            snapshot = _answer(instance, bar, snapshot).snapshot or snapshot
    return snapshot


def warmup_window(instance: StrategyInstance, before: datetime) -> tuple[datetime, datetime]:
    """The span ``[start, before)`` whose stored minute bars warm a rebuilt ``instance`` up: enough
    whole trading days (from New York midnight, so pre-market bars are in) to hold its
    ``warmup_bars`` of its timeframe, plus the day in progress."""
    minutes = instance.warmup_bars * minutes_in(instance.timeframe)
    days = math.ceil(minutes / SESSION_MINUTES) + 1
    day = session_date(before)
    while days > 0:
        day -= timedelta(days=1)
        days -= is_trading_day(day)
    return day_bounds(day)[0], before


def ledger_warmup(history: MarketHistory) -> WarmUpBars:
    """Warm-up bars read from the ledger's minute bars (``warmup_window`` before the bar)."""

    def bars(instance: StrategyInstance, bar: Bar) -> Sequence[Bar]:
        start, end = warmup_window(instance, bar.timestamp)
        return history.bars_between(start, end, [bar.symbol]).get(bar.symbol, [])

    return bars


def _answer(
    instance: StrategyInstance, bar: Bar, snapshot: dict[str, Any] | None, trade: TradeView | None = None
) -> Consumed:
    seen = None if snapshot is None else snapshot.get(_LAST_BAR)
    if seen is not None:
        last = datetime.fromisoformat(seen["t"])
        if bar.timestamp < last:
            return Consumed(None, False)  # older than what the strategy has consumed: nothing to do
        if bar.timestamp == last:
            wanted, terms = _read_answer(seen)
            return Consumed(wanted, False, bar=bar_from_state(seen.get("bar"), bar.symbol), terms=terms)
    if instance.timeframe != ONE_MINUTE:
        return _into_timeframe(instance, bar, snapshot, trade)
    strategy = instance.new(bar.symbol) if snapshot is None else instance.restore(snapshot)
    if trade is not None:
        strategy.see(trade)
    given = strategy.on_bar(bar)
    mark = {"t": bar.timestamp.isoformat(), **_answer_state(given)}
    return _consumed(given, {**strategy.snapshot(), _LAST_BAR: mark})


def _into_timeframe(
    instance: StrategyInstance, bar: Bar, snapshot: dict[str, Any] | None, trade: TradeView | None
) -> Consumed:
    """The minute ``bar`` added to the strategy's longer bar in the making (its state saved in
    the snapshot); the strategy is fed only the bars it completes. Between them its answer to
    the last one stands and is acted on every minute, as a 1-minute strategy's is: a decision
    that could not be carried out at once (at the close; an opposite order working) is tried
    again on the next minute."""
    building = TimeframeBars(instance.timeframe)
    building.load(None if snapshot is None else snapshot.get(_BUILDING))
    completed = building.add(bar)
    if not completed:  # the strategy is not woken: its snapshot is carried over as it is
        base = instance.new(bar.symbol).snapshot() if snapshot is None else snapshot
        standing = base.get(_STANDING) or {"wanted": None, "bar": None}
        mark = {"t": bar.timestamp.isoformat(), **standing}
        wanted, terms = _read_answer(standing)
        decided_bar = bar_from_state(standing["bar"], bar.symbol)
        return Consumed(wanted, True, {**base, _LAST_BAR: mark, _BUILDING: building.state()}, decided_bar, terms=terms)
    strategy = instance.new(bar.symbol) if snapshot is None else instance.restore(snapshot)
    if trade is not None:
        strategy.see(trade)
    given: Direction | Wanted | None = None
    for done in completed:
        given = strategy.on_bar(done)
    decided = completed[-1]
    standing = {**_answer_state(given), "bar": bar_state(decided)}
    mark = {"t": bar.timestamp.isoformat(), **standing}
    saved = {**strategy.snapshot(), _LAST_BAR: mark, _BUILDING: building.state(), _STANDING: standing}
    return _consumed(given, saved, decided)


def _consumed(given: Direction | Wanted | None, snapshot: dict[str, Any], bar: Bar | None = None) -> Consumed:
    """A new answer, as the kernel takes it: the direction, and the strategy's terms if it gave some."""
    if isinstance(given, Wanted):
        return Consumed(given.direction, True, snapshot, bar, terms=given)
    return Consumed(given, True, snapshot, bar)


def _answer_state(given: Direction | Wanted | None) -> dict[str, Any]:
    """The answer as a snapshot records it (a redelivered bar is acted on with the same order)."""
    if isinstance(given, Wanted):
        return {"wanted": given.direction.value, "terms": given.state()}
    return {"wanted": None if given is None else given.value}


def _read_answer(recorded: dict[str, Any]) -> tuple[Direction | None, Wanted | None]:
    """What ``_answer_state`` recorded."""
    if recorded["wanted"] is None:
        return None, None
    wanted = Direction(recorded["wanted"])
    terms = recorded.get("terms")
    return wanted, None if terms is None else Wanted.from_state(wanted, terms)
