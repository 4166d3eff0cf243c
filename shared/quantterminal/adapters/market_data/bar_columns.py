"""Bars held as columns (arrays of stamps, prices and volumes): the checks every loaded bar must
pass, applied to whole columns at once, and the ``Bar`` objects made from them.

The CSV loader's fast path (``csv_columns``) and the Parquet reader (``parquet_bars``) both end
here, so a file loads to the same bars, checked the same way, whatever its format.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from quantterminal.core.models import Bar

_SLICE = 65_536  # rows turned into bars at a time


def first_bad_row(ns: Any, o: Any, h: Any, lo: Any, c: Any, v: Any) -> int | None:
    """The index of the first row that is not a valid bar (or repeats or goes back in time), or
    ``None`` when every row is good. ``ns`` are int64 nanoseconds since the epoch (UTC)."""
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
    if len(ns) > 1:
        good[1:] &= np.diff(ns) > 0
    if bool(good.all()):
        return None
    return int(np.argmin(good))


def bars_from_columns(symbol: str, times: Any, *columns: Any, extras: tuple[Any, Any] | None = None) -> list[Bar]:
    """Bars made a slice at a time: Python floats and datetimes only for the slice at hand.
    ``times`` is a pandas Series of UTC stamps; ``columns`` are open, high, low, close, volume;
    ``extras`` (trade counts, VWAPs; NaN where unknown) when the source has them."""
    bars: list[Bar] = []
    with paused_gc():
        for start in range(0, len(times), _SLICE):
            end = start + _SLICE
            stamps = times.iloc[start:end].dt.to_pydatetime().tolist()
            o, h, lo, c, v = (col[start:end].tolist() for col in columns)
            if extras is None:
                bars += [
                    Bar(symbol, t, op, hi, low, cl, int(vol))
                    for t, op, hi, low, cl, vol in zip(stamps, o, h, lo, c, v, strict=True)
                ]
                continue
            n, vw = (col[start:end].tolist() for col in extras)
            bars += [
                Bar(
                    symbol,
                    t,
                    op,
                    hi,
                    low,
                    cl,
                    int(vol),
                    vwap=None if math.isnan(avg) else avg,  # NaN: unknown
                    trade_count=None if math.isnan(count) else int(count),
                )
                for t, op, hi, low, cl, vol, count, avg in zip(stamps, o, h, lo, c, v, n, vw, strict=True)
            ]
    return bars


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while millions of acyclic objects are made: each collection
    would walk every one made so far (a third of the time of making them)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
