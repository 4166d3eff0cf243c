"""A backtest's equity curve held as two columns -- stamps (µs since the epoch, UTC) and equity
(float) -- instead of a (datetime, float) tuple per point: 16 bytes a point rather than ~130, so
a two-million-bar run's curve is ~30 MB, not ~260 MB.

It is a ``Sequence[tuple[datetime, float]]``: whatever read the list of points reads it (index,
slice, iterate, compare), and the metrics read the equity column as it is.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import overload

from quantterminal.core.market_data.sessions import epoch_micros, from_epoch_micros

_CHUNK = 4_096  # points turned into tuples at a time while iterating
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class EquityCurve(Sequence[tuple[datetime, float]]):
    """Equity at each timestamp of a run, in time order (an analytics series: floats)."""

    __slots__ = ("_equity", "_us")

    def __init__(self, points: Sequence[tuple[datetime, float]] = ()) -> None:
        self._us = array("q", (epoch_micros(ts) for ts, _ in points))
        self._equity = array("d", (e for _, e in points))

    def append(self, ts: datetime, equity: float) -> None:
        """Add the point at ``ts`` (after every point so far)."""
        self._us.append((ts - _EPOCH) // _MICROSECOND)  # ``epoch_micros``, inline: once per bar
        self._equity.append(equity)

    @property
    def equities(self) -> Sequence[float]:
        """The equity column alone (no tuples made)."""
        return self._equity

    def __len__(self) -> int:
        return len(self._us)

    @overload
    def __getitem__(self, index: int) -> tuple[datetime, float]: ...

    @overload
    def __getitem__(self, index: slice) -> list[tuple[datetime, float]]: ...

    def __getitem__(self, index: int | slice) -> tuple[datetime, float] | list[tuple[datetime, float]]:
        if isinstance(index, slice):
            return [(from_epoch_micros(t), e) for t, e in zip(self._us[index], self._equity[index], strict=True)]
        return from_epoch_micros(self._us[index]), self._equity[index]

    def __iter__(self) -> Iterator[tuple[datetime, float]]:
        for start in range(0, len(self._us), _CHUNK):
            stamps, values = self._us[start : start + _CHUNK].tolist(), self._equity[start : start + _CHUNK].tolist()
            yield from zip(map(from_epoch_micros, stamps), values, strict=True)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EquityCurve):
            return self._us == other._us and self._equity == other._equity
        if isinstance(other, Sequence):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # a sequence: compared by value, never hashed

    def __repr__(self) -> str:
        return f"EquityCurve({len(self)} points)"


__all__ = ["EquityCurve"]
