"""One symbol's bars held as columns, a ``Bar`` made only when one is looked at.

A loaded file of two million minute bars held as ``Bar`` objects is ~550 MB (273 bytes each) and
takes longer to build than the backtest takes to run; as columns (``array``: 8 bytes a value) it is
~100 MB, and a backtest makes each ``Bar`` as its turn comes and drops it after. ``BarSeries`` is
an immutable ``Sequence[Bar]``: whatever reads a list of bars reads it (index, slice, iterate,
compare), so strategies, the kernel and the reports see the same ``Bar`` objects they always did.

Stamps are whole microseconds since the epoch (UTC), rising strictly: the loaders that build a
series (``adapters.market_data.bar_columns``) check every row first, so a series is valid by
construction and ``merge_bars`` need not walk it again.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, TypeAlias, overload

from quantterminal.core.market_data.calendar import SessionRule
from quantterminal.core.market_data.sessions import epoch_micros
from quantterminal.core.models import Bar

_CHUNK = 4_096  # rows turned into Python numbers at a time while iterating


Column: TypeAlias = "array[Any]"  # "q" (stamps, volumes) or "d" (prices, VWAP, trade count)


class BarSeries(Sequence[Bar]):
    """A symbol's bars as columns: stamps (µs, UTC), open, high, low, close, volume and,
    when the source had them, VWAP and trade count (NaN: unknown)."""

    __slots__ = ("_cols", "_extras", "symbol")

    def __init__(
        self,
        symbol: str,
        micros: Column,
        opens: Column,
        highs: Column,
        lows: Column,
        closes: Column,
        volumes: Column,
        vwaps: Column | None = None,
        counts: Column | None = None,
    ) -> None:
        cols = (micros, opens, highs, lows, closes, volumes)
        extras = None if vwaps is None or counts is None else (vwaps, counts)
        if len({len(c) for c in cols + (extras or ())}) != 1:
            raise ValueError(f"{symbol}: bar columns of different lengths")
        self.symbol = symbol
        self._cols = cols
        self._extras = extras

    def __len__(self) -> int:
        return len(self._cols[0])

    @overload
    def __getitem__(self, index: int) -> Bar: ...

    @overload
    def __getitem__(self, index: slice) -> BarSeries: ...

    def __getitem__(self, index: int | slice) -> Bar | BarSeries:
        if isinstance(index, slice):
            return self._cut(lambda col: col[index])
        us, o, h, lo, c, v = (col[index] for col in self._cols)
        vwap = count = None
        if self._extras is not None:
            vw, n = self._extras[0][index], self._extras[1][index]
            vwap, count = (None if math.isnan(vw) else vw), (None if math.isnan(n) else int(n))
        return Bar(self.symbol, datetime.fromtimestamp(us / 1e6, UTC), o, h, lo, c, v, vwap, count)

    def __iter__(self) -> Iterator[Bar]:
        if self._extras is not None:
            yield from (self[i] for i in range(len(self)))
            return
        symbol, stamp = self.symbol, datetime.fromtimestamp
        for start in range(0, len(self), _CHUNK):
            us, o, h, lo, c, v = (col[start : start + _CHUNK].tolist() for col in self._cols)
            for t, op, hi, low, cl, vol in zip(us, o, h, lo, c, v, strict=True):
                yield Bar(symbol, stamp(t / 1e6, UTC), op, hi, low, cl, vol)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BarSeries) and self._extras is None and other._extras is None:
            return (self.symbol, self._cols) == (other.symbol, other._cols)  # column by column, no Bar made
        if isinstance(other, Sequence):  # bar by bar (an unknown VWAP is NaN in a column, None in a Bar)
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    def __add__(self, other: Sequence[Bar]) -> list[Bar]:
        """Joined with other bars, as a list joins (what a caller of the list-returning loader did)."""
        return [*self, *other]

    def __radd__(self, other: Sequence[Bar]) -> list[Bar]:
        return [*other, *self]

    __hash__ = None  # type: ignore[assignment]  # a sequence: compared by value, never hashed

    def __repr__(self) -> str:
        return f"BarSeries({self.symbol!r}, {len(self)} bars)"

    def between(self, start: datetime, end: datetime) -> BarSeries:
        """The bars stamped in ``[start, end)``."""
        stamps = self._cols[0]
        return self[bisect_left(stamps, epoch_micros(start)) : bisect_left(stamps, epoch_micros(end))]

    def regular_session(self) -> BarSeries:
        """Only the bars of the regular session (``SessionRule``: holidays and early closes included)."""
        regular, stamp = SessionRule().in_regular_session, datetime.fromtimestamp
        kept = [i for i, t in enumerate(self._cols[0]) if regular(stamp(t / 1e6, UTC))]
        return self._cut(lambda col: array(col.typecode, [col[i] for i in kept]))

    @staticmethod
    def concat(parts: Sequence[BarSeries]) -> BarSeries:
        """``parts`` (one symbol, each after the one before) as one series; VWAP and trade count
        are kept if any part has them (NaN, unknown, for the rows of a part without)."""
        columns: list[Column] = [array(col.typecode) for col in parts[0]._cols]
        extras: list[Column] = [array("d"), array("d")] if any(p._extras is not None for p in parts) else []
        for part in parts:
            for out, col in zip(columns, part._cols, strict=True):
                out.extend(col)
            unknown: Column = array("d", [math.nan]) * len(part)
            for out, col in zip(extras, part._extras or (unknown, unknown), strict=False):
                out.extend(col)
        return BarSeries(parts[0].symbol, *columns, *extras)

    def _cut(self, cut: Callable[[Column], Column]) -> BarSeries:
        """The same cut of every column."""
        extras = () if self._extras is None else tuple(cut(col) for col in self._extras)
        return BarSeries(self.symbol, *(cut(col) for col in self._cols), *extras)


def bars_between(bars: Sequence[Bar], start: datetime, end: datetime) -> Sequence[Bar]:
    """The bars of one symbol's time-ordered ``bars`` stamped in ``[start, end)``, by bisection."""
    if isinstance(bars, BarSeries):
        return bars.between(start, end)
    stamp = attrgetter("timestamp")
    return bars[bisect_left(bars, start, key=stamp) : bisect_left(bars, end, key=stamp)]


__all__ = ["BarSeries", "Column", "bars_between"]
