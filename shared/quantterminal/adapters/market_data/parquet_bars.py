"""Bars in Parquet files: what ``qterm data download`` writes and ``--data`` reads beside CSV.

One file holds one symbol's bars (``SPY_1min_2024-01.parquet``: the symbol is the part of the name
before the first ``_``, as for CSV). Columns: ``timestamp`` (UTC, the bar's start), ``open``,
``high``, ``low``, ``close`` (float64), ``volume`` (int64) and, when the source gave them,
``trade_count`` and ``vwap``. The file's key-value metadata (``quantterminal``) says where the bars
came from and which range they cover, so a download resumes by reading it.

Reading checks every row as the CSV loader does (prices, whole volumes, strictly rising stamps);
the first bad row raises ``DataError`` naming the file and the row. Writing is atomic (a temporary
file renamed into place): a killed download leaves the old file or the new one, never half of one.
pyarrow is an optional dependency (the ``data`` extra); without it, a clear one-line error.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from quantterminal.adapters.market_data.bar_columns import bars_from_columns, first_bad_row
from quantterminal.core.market_data.validation import bar_problem
from quantterminal.core.models import Bar
from quantterminal.errors import ParquetUnavailableError

METADATA_KEY = b"quantterminal"
_PRICES = ("open", "high", "low", "close")


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa  # type: ignore[import-untyped]  # noqa: PLC0415 - an optional extra
        import pyarrow.parquet as pq  # type: ignore[import-untyped]  # noqa: PLC0415
    except ImportError:
        raise ParquetUnavailableError("Parquet needs pyarrow: pip install 'quantterminal[data]' (or pyarrow)") from None
    return pa, pq


def write_parquet_bars(path: Path, bars: Sequence[Bar], metadata: Mapping[str, Any]) -> None:
    """Write ``bars`` (one symbol, time order) to ``path`` atomically, with ``metadata`` attached."""
    pa, pq = _pyarrow()
    schema = pa.schema(
        [
            pa.field("timestamp", pa.timestamp("ns", tz="UTC"), nullable=False),
            *(pa.field(name, pa.float64(), nullable=False) for name in _PRICES),
            pa.field("volume", pa.int64(), nullable=False),
            pa.field("trade_count", pa.int64()),
            pa.field("vwap", pa.float64()),
        ],
        metadata={METADATA_KEY: json.dumps(dict(metadata), sort_keys=True).encode()},
    )
    table = pa.table(
        {
            "timestamp": [b.timestamp for b in bars],
            "open": [b.open for b in bars],
            "high": [b.high for b in bars],
            "low": [b.low for b in bars],
            "close": [b.close for b in bars],
            "volume": [b.volume for b in bars],
            "trade_count": [b.trade_count for b in bars],
            "vwap": [b.vwap for b in bars],
        },
        schema=schema,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, partial, compression="zstd")
    os.replace(partial, path)


def parquet_metadata(path: Path) -> dict[str, Any] | None:
    """The metadata ``write_parquet_bars`` attached, or ``None`` (no file, not ours, unreadable)."""
    _, pq = _pyarrow()
    try:
        raw = (pq.read_schema(path).metadata or {}).get(METADATA_KEY)
        return None if raw is None else dict(json.loads(raw))
    except (OSError, ValueError):
        return None


def read_parquet_bars(path: Path, symbol: str) -> Sequence[Bar]:
    """Every bar of ``path``, checked; ``DataError`` (from ``csv_bars``) names the first bad row."""
    from quantterminal.errors import DataError  # noqa: PLC0415 - csv_bars imports us

    pa, pq = _pyarrow()
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{path}: not a readable Parquet file: {exc}") from None
    names = set(table.column_names)
    missing = [c for c in ("timestamp", *_PRICES, "volume") if c not in names]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)} (columns: {', '.join(table.column_names)})")
    stamp_type = table.schema.field("timestamp").type
    if not pa.types.is_timestamp(stamp_type) or stamp_type.tz is None:
        raise DataError(f"{path}: timestamp must be a timestamp with a time zone, not {stamp_type}")
    if table.num_rows == 0:
        return []
    for name in ("timestamp", *_PRICES, "volume"):
        if table.column(name).null_count:
            raise DataError(f"{path}: column {name} has empty values")
    # microseconds: what a Bar's datetime holds (finer stamps are cut, as a datetime would cut them)
    micros = table.column("timestamp").cast(pa.timestamp("us", tz="UTC"), safe=False)
    us = micros.cast(pa.int64()).to_numpy()
    o, h, lo, c, v = (table.column(name).to_numpy().astype("float64") for name in (*_PRICES, "volume"))
    bad = first_bad_row(us, o, h, lo, c, v)
    if bad is not None:
        raise DataError(f"{path}: row {bad + 1}: {_row_problem(symbol, micros, (o, h, lo, c, v), bad)}")
    extras = None
    if "trade_count" in names and "vwap" in names:
        extras = (
            table.column("trade_count").to_numpy(zero_copy_only=False).astype("float64"),
            table.column("vwap").to_numpy(zero_copy_only=False).astype("float64"),
        )
    return bars_from_columns(symbol, us, o, h, lo, c, v, extras=extras)


def _row_problem(symbol: str, times: Any, columns: tuple[Any, ...], row: int) -> str:
    """What is wrong with ``row``, which ``first_bad_row`` picked out."""
    o, h, lo, c, v = (float(col[row]) for col in columns)
    stamp = times[row].as_py()
    problem = bar_problem(Bar(symbol, stamp, o, h, lo, c, 0))
    if problem is not None:
        return problem
    if not (v >= 0 and v.is_integer() and v < 2.0**63):
        return f"volume {v!r} is not a whole number of shares"
    return f"timestamp {stamp.isoformat()} is not after the row before"
