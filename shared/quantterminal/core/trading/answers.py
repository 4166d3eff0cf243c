"""A strategy's answer to a bar, from the snapshot it was saved as: what every environment that
keeps strategies in the state store (the Lambdas, the paper run) does for each bar.

The snapshot remembers the last bar consumed and the answer given, so a redelivered bar (Kinesis
retries a batch; a Lambda crashed after saving) is not fed to the indicators twice, and the
decision it led to can still be carried out. For a strategy deciding on bars longer than a minute
it also holds the bar in the making and the answer to the last one completed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from quantterminal.core.market_data.timeframes import ONE_MINUTE, TimeframeBars, bar_from_state, bar_state
from quantterminal.core.models import Bar, Direction
from quantterminal.core.strategies import StrategyInstance

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


def answer(instance: StrategyInstance, bar: Bar, snapshot: dict[str, Any] | None) -> Consumed:
    """``instance``'s answer to ``bar``, restored from ``snapshot`` (no I/O); the snapshot to save
    comes back with it and must be saved before the answer is acted on."""
    seen = None if snapshot is None else snapshot.get(_LAST_BAR)
    if seen is not None:
        last = datetime.fromisoformat(seen["t"])
        if bar.timestamp < last:
            return Consumed(None, False)  # older than what the strategy has consumed: nothing to do
        if bar.timestamp == last:
            wanted = None if seen["wanted"] is None else Direction(seen["wanted"])
            return Consumed(wanted, False, bar=bar_from_state(seen.get("bar"), bar.symbol))
    if instance.timeframe != ONE_MINUTE:
        return _into_timeframe(instance, bar, snapshot)
    strategy = instance.new(bar.symbol) if snapshot is None else instance.restore(snapshot)
    wanted = strategy.on_bar(bar)
    mark = {"t": bar.timestamp.isoformat(), "wanted": None if wanted is None else wanted.value}
    return Consumed(wanted, True, {**strategy.snapshot(), _LAST_BAR: mark})


def _into_timeframe(instance: StrategyInstance, bar: Bar, snapshot: dict[str, Any] | None) -> Consumed:
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
        wanted = None if standing["wanted"] is None else Direction(standing["wanted"])
        decided_bar = bar_from_state(standing["bar"], bar.symbol)
        return Consumed(wanted, True, {**base, _LAST_BAR: mark, _BUILDING: building.state()}, decided_bar)
    strategy = instance.new(bar.symbol) if snapshot is None else instance.restore(snapshot)
    wanted = None
    for done in completed:
        wanted = strategy.on_bar(done)
    decided = completed[-1]
    standing = {"wanted": None if wanted is None else wanted.value, "bar": bar_state(decided)}
    mark = {"t": bar.timestamp.isoformat(), **standing}
    saved = {**strategy.snapshot(), _LAST_BAR: mark, _BUILDING: building.state(), _STANDING: standing}
    return Consumed(wanted, True, saved, decided)
