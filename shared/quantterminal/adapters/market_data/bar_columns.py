"""Bars held as columns (arrays of stamps, prices and volumes): the checks every loaded bar must
pass, applied to whole columns at once, and the ``BarSeries`` made from them.

The CSV loader's fast path (``csv_columns``) and the Parquet reader (``parquet_bars``) both end
here, so a file loads to the same bars, checked the same way, whatever its format.
"""

from __future__ import annotations

from array import array
from typing import Any

from quantterminal.core.market_data.bar_series import BarSeries


def first_bad_row(us: Any, o: Any, h: Any, lo: Any, c: Any, v: Any) -> int | None:
    """The index of the first row that is not a valid bar (or repeats or goes back in time), or
    ``None`` when every row is good. ``us`` are int64 microseconds since the epoch (UTC)."""
    import numpy as np  # noqa: PLC0415 - only a columnar load pays for numpy

    good = (
        np.isfinite(o)
        & np.isfinite(h)
        & np.isfinite(lo)
        & np.isfinite(c)
        & (lo > 0)
        & (lo <= o)
        & (o <= h)
        & (lo <= c)
        & (c <= h)
        & np.isfinite(v)
        & (v >= 0)
        & (v == np.floor(v))
        & (v < 2.0**63)
    )
    if len(us) > 1:
        good[1:] &= np.diff(us) > 0
    if bool(good.all()):
        return None
    return int(np.argmin(good))


_TYPECODES = ("q", "d", "d", "d", "d", "q")  # stamps, open, high, low, close, volume


def _packed(typecode: str, values: Any) -> array[Any]:
    import numpy as np  # noqa: PLC0415 - only a columnar load pays for numpy

    out = array(typecode)
    out.frombytes(np.ascontiguousarray(values, dtype=np.int64 if typecode == "q" else np.float64).tobytes())
    return out


def bars_from_columns(symbol: str, us: Any, *columns: Any, extras: tuple[Any, Any] | None = None) -> BarSeries:
    """The checked rows as a ``BarSeries`` (columns, no ``Bar`` objects until one is read).
    ``us`` are int64 microseconds since the epoch (UTC: a ``Bar``'s datetime holds no finer, and
    nanoseconds overflow in 2262); ``columns`` are open, high, low, close,
    volume; ``extras`` (trade counts, VWAPs; NaN where unknown) when the source has them."""
    o, h, lo, c, v = columns
    counts, vwaps = (None, None) if extras is None else (_packed("d", extras[0]), _packed("d", extras[1]))
    opens, highs, lows, closes = (_packed("d", col) for col in (o, h, lo, c))
    return BarSeries(symbol, _packed("q", us), opens, highs, lows, closes, _packed("q", v), vwaps, counts)


class ColumnBlocks:
    """A ``BarSeries`` built from blocks of rows read one after another (a reader that streams a
    file): each block is checked as it comes -- and against the block before -- then packed, so
    no more than one block is ever held twice."""

    def __init__(self) -> None:
        self._columns = [array(t) for t in _TYPECODES]

    def add(self, us: Any, *columns: Any) -> bool:
        """Append a block (µs stamps, open, high, low, close, volume); ``False`` if some row of
        it is not a valid bar or does not come after the row before."""
        if len(us) == 0:
            return True
        stamps = self._columns[0]
        if (stamps and int(us[0]) <= stamps[-1]) or first_bad_row(us, *columns) is not None:
            return False
        for out, typecode, col in zip(self._columns, _TYPECODES, (us, *columns), strict=True):
            out.extend(_packed(typecode, col))
        return True

    def series(self, symbol: str) -> BarSeries:
        return BarSeries(symbol, *self._columns)
