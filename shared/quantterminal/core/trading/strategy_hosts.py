"""Where the strategies' state lives between bars, and how each answers a bar (``StrategyHost``):
as snapshots in the state store (``SnapshotStrategies``: the Lambdas, a paper run on Redis -- any
process carries on where the last left off) or as live objects in this process
(``ResidentStrategies``: a backtest, a paper run on ``memory://``). The desk asks its host for
every bar's answers; nothing else about a bar differs between the two."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from quantterminal.core.accounting.ports import StateStore
from quantterminal.core.market_data.timeframes import ONE_MINUTE, TimeframeBars
from quantterminal.core.models import Bar, Direction
from quantterminal.core.strategies.trade_view import TradeView
from quantterminal.core.strategies.wanted import Wanted
from quantterminal.core.trading.answers import Consumed, WarmUpBars
from quantterminal.core.trading.engine import TradingEngine

log = logging.getLogger(__name__)


class StrategyHost(Protocol):
    """Where the strategies' state lives between bars, and how each answers a bar."""

    # whether the state lives in the store's snapshots: the desk then reads them with the rest of
    # what a bar needs, in one go (``StateStore.bar_state``), and hands them to ``answers``
    in_snapshots: bool

    def answers(
        self,
        engines: Mapping[str, TradingEngine],
        bar: Bar,
        snapshots: Mapping[str, dict[str, Any] | None] | None = None,
        trades: Mapping[str, TradeView] | None = None,
    ) -> dict[str, Consumed]:
        """Every engine's strategy answers ``bar``; its state is kept for the next bar.
        ``trades``: by instance name, what a strategy that ``uses_trade`` sees of its trade."""
        ...


class SnapshotStrategies:
    """Strategies restored from the state store's snapshots for every bar and saved after it: any
    process (a Lambda, a restarted paper run) carries on where the last left off. Snapshots are
    read in one go and written in one go -- before any order is acted on, so a crash in between
    replays the answers, never feeds a bar twice. A snapshot taken under other parameters than the
    configured ones is rebuilt and warmed up on ``history`` (the ledger's bars), and logged."""

    in_snapshots = True

    def __init__(self, store: StateStore, history: WarmUpBars | None = None) -> None:
        self.store = store
        self.history = history

    def answers(
        self,
        engines: Mapping[str, TradingEngine],
        bar: Bar,
        snapshots: Mapping[str, dict[str, Any] | None] | None = None,
        trades: Mapping[str, TradeView] | None = None,
    ) -> dict[str, Consumed]:
        names = list(engines)
        if snapshots is None:
            snapshots = self.store.load_snapshots(names, bar.symbol)
        trades = trades or {}
        consumed = {name: engines[name].consume(bar, snapshots[name], self.history, trades.get(name)) for name in names}
        for name, c in consumed.items():
            if c.rebuilt is not None:
                log.warning(
                    "%s %s: parameters changed since its snapshot; rebuilt with %s and warmed up on %d stored bars",
                    name,
                    bar.symbol,
                    engines[name].instance.params,
                    c.rebuilt,
                )
        changed = {name: c.snapshot for name, c in consumed.items() if c.snapshot is not None}
        if changed:
            self.store.save_snapshots(bar.symbol, changed)
        return consumed


class ResidentStrategies:
    """Strategies kept as live objects in this process: a backtest, or a paper run whose state
    store lives and dies with the process -- nothing else shares them and a restart starts them
    afresh either way, so a snapshot per bar would only cost time. As the snapshots do, they take
    each symbol's minutes once, in order: a bar delivered again gets the answers it got, an
    older one none."""

    in_snapshots = False

    def __init__(self) -> None:
        # by symbol and strategy name: its on_bar and, for one deciding on longer bars than a
        # minute, what turns its minutes into those bars (``LongerBars``) -- one object per
        # strategy and symbol, whichever subset of strategies a bar goes to (the session rule)
        self._objects: dict[str, dict[str, _Resident]] = {}
        # by (symbol, id of the engines mapping): that mapping (kept, so its id is not reused) and its strategies
        self._lists: dict[tuple[str, int], tuple[Mapping[str, TradingEngine], list[_Resident]]] = {}
        self._last: dict[str, tuple[datetime, dict[str, Consumed]]] = {}  # by symbol: the last bar's stamp, answers

    def _resident(self, engines: Mapping[str, TradingEngine], symbol: str) -> list[_Resident]:
        cached = self._lists.get((symbol, id(engines)))
        if cached is not None and cached[0] is engines:
            return cached[1]
        objects = self._objects.setdefault(symbol, {})
        for name, engine in engines.items():
            if name not in objects:
                timeframe = engine.instance.timeframe
                longer = None if timeframe == ONE_MINUTE else LongerBars(timeframe)
                strategy = engine.instance.new(symbol)
                objects[name] = (name, strategy.on_bar, longer, strategy.see if strategy.uses_trade else None)
        live = [objects[name] for name in engines]
        self._lists[(symbol, id(engines))] = (engines, live)
        return live

    def answers(
        self,
        engines: Mapping[str, TradingEngine],
        bar: Bar,
        snapshots: Mapping[str, dict[str, Any] | None] | None = None,
        trades: Mapping[str, TradeView] | None = None,
    ) -> dict[str, Consumed]:
        last = self._last.get(bar.symbol)
        if last is not None and bar.timestamp <= last[0]:
            if bar.timestamp < last[0]:
                return dict.fromkeys(engines, _STALE)
            return {name: replace(c, new=False) for name, c in last[1].items() if name in engines}
        out = self._answer(engines, bar, trades)
        self._last[bar.symbol] = (bar.timestamp, out)
        return out

    def _answer(
        self, engines: Mapping[str, TradingEngine], bar: Bar, trades: Mapping[str, TradeView] | None
    ) -> dict[str, Consumed]:
        out = {}
        for name, decide, longer, see in self._resident(engines, bar.symbol):
            if see is not None and trades is not None:
                trade = trades.get(name)
                if trade is not None:
                    see(trade)
            if longer is not None:
                out[name] = longer.answer(decide, bar)
                continue
            out[name] = _consumed(decide(bar))
        return out


class LongerBars:
    """A resident strategy's longer bars in the making, and its answer to the last one completed:
    the answer stands (and is acted on, naming that bar) every minute until the next bar
    completes -- as the snapshot path does (``TradingEngine.consume``)."""

    def __init__(self, timeframe: str) -> None:
        self.building = TimeframeBars(timeframe)
        self.standing = _NONE

    def answer(self, on_bar: Callable[[Bar], Direction | Wanted | None], bar: Bar) -> Consumed:
        completed = self.building.add(bar)
        if not completed:
            return self.standing
        given = None
        for done in completed:
            given = on_bar(done)
        self.standing = replace(_consumed(given), bar=completed[-1])
        return self.standing


def _consumed(given: Direction | Wanted | None) -> Consumed:
    """A resident strategy's new answer as the kernel takes it."""
    # identity, not a dict: an Enum's hash is a Python call, and this runs for every bar
    if given is None:
        return _NONE
    if given is Direction.LONG:
        return _LONG
    if given is Direction.FLAT:
        return _FLAT
    if given is Direction.SHORT:
        return _SHORT
    return Consumed(given.direction, True, terms=given)


_NONE, _LONG, _FLAT, _SHORT = (Consumed(d, True) for d in (None, Direction.LONG, Direction.FLAT, Direction.SHORT))
_STALE = Consumed(None, False)  # a bar older than one already consumed: nothing to do
# an instance's name, its strategy's on_bar, its longer bars in the making (if any) and, for a
# strategy that ``uses_trade``, how it is handed its trade
_Resident = tuple[
    str, Callable[[Bar], Direction | Wanted | None], "LongerBars | None", Callable[[TradeView], None] | None
]
