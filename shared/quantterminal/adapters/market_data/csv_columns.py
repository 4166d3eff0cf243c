"""The CSV loader's fast path: a whole file parsed and checked column by column with pandas' C
reader (alpaca-py already brings pandas into every install, so nothing is added to the Lambda
bundle), instead of one ``float()`` and ``fromisoformat`` per field.

It accepts exactly what the line-by-line reader (``csv_bars.read_bars_file``) accepts and gives
the same bars (floats parsed with Python's own correctly rounded conversion, timestamps to UTC).
On anything doubtful -- a parse error, a naive timestamp, a bad price, a duplicate -- it answers
``None`` and the line-by-line reader reads the file again to name the file, line and problem, so
errors stay one precise line and loading stays all or nothing.
"""

from __future__ import annotations

from pathlib import Path

from quantterminal.adapters.market_data.bar_columns import bars_from_columns, first_bad_row
from quantterminal.core.models import Bar

_PRICES = ("open", "high", "low", "close")
# The canonical stamp, with its UTC offset: a naive stamp does not match (the slow path refuses it
# by line); other ISO-8601 spellings are left to the slow path, which accepts them.
_STAMP = "%Y-%m-%dT%H:%M:%S%z"


def read_columns(path: Path, symbol: str, columns: list[str]) -> list[Bar] | None:
    """The bars of ``path`` (whose header, already checked, is ``columns``), or ``None`` when the
    file needs the line-by-line reader's verdict. (pandas 3 parses floats correctly rounded, as
    ``float()`` does; a test compares both paths bar for bar on every data file we have.)"""
    import pandas as pd  # type: ignore[import-untyped]  # noqa: PLC0415

    try:
        frame = pd.read_csv(
            path,
            header=0,
            names=columns,
            usecols=["timestamp", *_PRICES, "volume"],
            dtype={"timestamp": str, **dict.fromkeys(_PRICES, "float64"), "volume": "float64"},
            skipinitialspace=True,
            engine="c",
        )
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError, OSError):
        return None
    if frame.empty:
        return []
    stamps = frame["timestamp"]
    if stamps.isna().any():
        return None
    try:
        times = pd.to_datetime(stamps.str.strip(), format=_STAMP, utc=True)
    except (ValueError, TypeError, OverflowError):
        return None
    ns = times.to_numpy(dtype="datetime64[ns]").astype("int64")
    o, h, lo, c, v = (frame[name].to_numpy() for name in (*_PRICES, "volume"))
    if first_bad_row(ns, o, h, lo, c, v) is not None:
        return None
    del frame, stamps  # the text columns are done with: keep the peak to the arrays and the bars
    return bars_from_columns(symbol, times, o, h, lo, c, v)
