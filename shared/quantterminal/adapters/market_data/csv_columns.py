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

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from quantterminal.adapters.market_data.bar_columns import ColumnBlocks
from quantterminal.core.models import Bar

_PRICES = ("open", "high", "low", "close")
# The canonical stamp, with its UTC offset: a naive stamp does not match (the slow path refuses it
# by line); other ISO-8601 spellings are left to the slow path, which accepts them.
_STAMP = "%Y-%m-%dT%H:%M:%S%z"
_BLOCK_BYTES = 512 << 10  # of CSV text a block (~8,000 bars): small blocks keep Arrow's pool, and the peak, small


def read_columns(path: Path, symbol: str, columns: list[str]) -> Sequence[Bar] | None:
    """The bars of ``path`` (whose header, already checked, is ``columns``), or ``None`` when the
    file needs the line-by-line reader's verdict. Streamed by pyarrow's CSV reader where pyarrow
    is installed (the ``data`` extra: no Python object per field, a block at a time), else read
    whole by pandas'. (Both parse floats correctly rounded, as ``float()`` does; a test compares
    every path bar for bar on every data file we have.)"""
    blocks = _with_pyarrow(path, columns)
    if blocks is False:
        blocks = _with_pandas(path, columns)
    if blocks is None:
        return None
    series = blocks.series(symbol)
    return series if len(series) else []


def _with_pyarrow(path: Path, columns: list[str]) -> ColumnBlocks | Literal[False] | None:
    """The file's rows by pyarrow's streaming reader (``None``: pyarrow or the checks doubt the
    file; ``False``: pyarrow is not installed)."""
    try:
        import pyarrow as pa  # type: ignore[import-untyped]  # noqa: PLC0415 - an optional extra
        import pyarrow.csv as pa_csv  # type: ignore[import-untyped]  # noqa: PLC0415
    except ImportError:
        return False
    types = {"timestamp": pa.timestamp("us", tz="UTC"), **dict.fromkeys((*_PRICES, "volume"), pa.float64())}
    blocks = ColumnBlocks()
    try:
        reader = pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(
                column_names=columns, skip_rows=1, block_size=_BLOCK_BYTES, use_threads=False
            ),
            # an offset is required: a naive stamp is refused here and named by the line-by-line reader
            convert_options=pa_csv.ConvertOptions(
                column_types=types, include_columns=["timestamp", *_PRICES, "volume"]
            ),
            # the blocks are copied out at once: malloc returns them, where arrow's default pool
            # (mimalloc) kept ~35 MB a 2,000,000-row file for the rest of the run
            memory_pool=pa.system_memory_pool(),
        )
        for batch in reader:
            if any(col.null_count for col in batch.columns):
                return None
            stamps = batch.column("timestamp").cast(pa.int64()).to_numpy()
            if not blocks.add(stamps, *(batch.column(name).to_numpy() for name in (*_PRICES, "volume"))):
                return None
    except (pa.ArrowException, OSError, ValueError):
        return None
    return blocks


def _with_pandas(path: Path, columns: list[str]) -> ColumnBlocks | None:
    """The file's rows by pandas, as one block (``None``: pandas or the checks doubt the file)."""
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
    stamps = frame["timestamp"]
    if stamps.isna().any():
        return None
    try:
        times = pd.to_datetime(stamps.str.strip(), format=_STAMP, utc=True)
    except (ValueError, TypeError, OverflowError):
        return None
    us = times.to_numpy(dtype="datetime64[us]").astype("int64")
    blocks = ColumnBlocks()
    return blocks if blocks.add(us, *(frame[name].to_numpy() for name in (*_PRICES, "volume"))) else None
