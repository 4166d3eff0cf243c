"""Load OHLCV bars from CSV files -- ``timestamp,open,high,low,close,volume`` -- or from Parquet
files (``parquet_bars``), one symbol a file.

Timestamps are ISO-8601 with a UTC offset (naive stamps are refused: their zone is a guess) and
label the bar's start. The symbol comes from the file name -- the part before the first ``_``
(``SPY_1min_2011-01_ext.csv`` → ``SPY``) -- or from the caller. Several files of one symbol (e.g.
consecutive months, in either format) are joined and must not overlap.

Loading is all or nothing: every file is read and checked in full before any bar is returned, and
the first problem raises ``DataError`` naming the file, the line (or row) and what is wrong. CSV
files of 100 KB or more are read column by column first (``csv_columns``, several times faster); a
file that path doubts is read line by line, which names the problem.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

from quantterminal.adapters.market_data.csv_columns import read_columns
from quantterminal.constants import SAMPLE_PREFIX
from quantterminal.core.market_data.bar_series import BarSeries
from quantterminal.core.market_data.calendar import SessionRule
from quantterminal.core.market_data.validation import bar_problem
from quantterminal.core.models import Bar
from quantterminal.errors import DataError

REQUIRED_COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
FAST_PATH_BYTES = 100_000  # a file this large (~1,700 bars) is read column by column (``csv_columns``)
DATA_SUFFIXES = (".csv", ".parquet")
SAMPLE_ROOT = Path(__file__).resolve().parents[2] / "sample_data"


def symbol_from_path(path: Path) -> str:
    """The symbol a file name stands for: the upper-cased part before the first underscore."""
    symbol = path.name.split("_", 1)[0].split(".", 1)[0].upper()
    if not symbol:
        raise DataError(f"{path}: cannot tell the symbol from the file name; pass it explicitly")
    return symbol


def _parse_number(raw: str, column: str, where: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise DataError(f"{where}: {column} {raw!r} is not a number") from None


def _parse_volume(raw: str, where: str) -> int:
    value = _parse_number(raw, "volume", where)
    if not math.isfinite(value) or not value.is_integer():
        raise DataError(f"{where}: volume {raw!r} is not a whole number of shares")
    return int(value)


def _parse_timestamp(raw: str, where: str) -> datetime:
    try:
        ts = datetime.fromisoformat(raw)
    except ValueError:
        raise DataError(f"{where}: timestamp {raw!r} is not ISO-8601") from None
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise DataError(f"{where}: timestamp {raw!r} has no UTC offset")
    return ts.astimezone(UTC)


def read_bars_file(path: Path, symbol: str | None = None) -> Sequence[Bar]:
    """All bars of one file, checked; raises ``DataError`` on the first bad line."""
    symbol = symbol or symbol_from_path(path)
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{path}: cannot open: {exc.strerror or exc}") from None
    bars: list[Bar] = []
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise DataError(f"{path}: file is empty (expected a header line)") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DataError(f"{path}:1: unreadable header: {exc}") from None
        columns = [c.strip().lower() for c in header]
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise DataError(f"{path}:1: missing column(s) {', '.join(missing)} (header: {','.join(header)})")
        if path.stat().st_size >= FAST_PATH_BYTES and len(set(columns)) == len(columns):
            fast = read_columns(path, symbol, columns)
            if fast is not None:
                return fast
        idx = [columns.index(c) for c in REQUIRED_COLUMNS]
        width = len(columns)
        previous: datetime | None = None
        try:
            for row in reader:
                line = reader.line_num
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                where = f"{path}:{line}"
                if len(row) != width:
                    raise DataError(f"{where}: expected {width} fields, found {len(row)}")
                ts = _parse_timestamp(row[idx[0]].strip(), where)
                open_, high, low, close = (
                    _parse_number(row[i].strip(), name, where)
                    for i, name in zip(idx[1:5], REQUIRED_COLUMNS[1:5], strict=True)
                )
                volume = _parse_volume(row[idx[5]].strip(), where)
                bar = Bar(symbol, ts, open_, high, low, close, volume)
                problem = bar_problem(bar)
                if problem:
                    raise DataError(f"{where}: {problem}")
                if previous is not None:
                    if ts == previous:
                        raise DataError(f"{where}: duplicate timestamp {row[idx[0]].strip()}")
                    if ts < previous:
                        raise DataError(f"{where}: timestamp {row[idx[0]].strip()} is earlier than the line before")
                previous = ts
                bars.append(bar)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DataError(f"{path}:{reader.line_num}: unreadable line: {exc}") from None
    return bars


def read_any(path: Path, symbol: str) -> Sequence[Bar]:
    """The bars of one CSV or Parquet file (told apart by the suffix)."""
    if path.suffix == ".parquet":
        from quantterminal.adapters.market_data.parquet_bars import read_parquet_bars  # noqa: PLC0415

        return read_parquet_bars(path, symbol)
    return read_bars_file(path, symbol)


def sample_sets() -> list[str]:
    """Names of the data sets shipped with the package (``sample:NAME``)."""
    return sorted(p.name for p in SAMPLE_ROOT.iterdir() if p.is_dir())


def resolve_source(text: str) -> Path:
    """A ``--data`` argument as a path: ``sample:NAME`` is a shipped set, anything else a path."""
    if text.startswith(SAMPLE_PREFIX):
        name = text[len(SAMPLE_PREFIX) :]
        if name not in sample_sets():
            raise DataError(f"unknown sample data set {name!r} (shipped: {', '.join(sample_sets())})")
        return SAMPLE_ROOT / name
    return Path(text).expanduser()


def data_files(source: Path) -> list[Path]:
    """The bar files a ``--data`` argument names: the file itself or the ``*.csv`` and ``*.parquet``
    files in a folder."""
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix in DATA_SUFFIXES and not p.name.startswith("."))
        if not files:
            raise DataError(f"{source}: no .csv or .parquet files in this folder")
        return files
    if source.is_file():
        return [source]
    raise DataError(f"{source}: no such file or folder")


def load_bars(
    sources: Sequence[Path] | Path,
    symbols: Iterable[str] | None = None,
    symbol: str | None = None,
    regular_hours_only: bool = False,
) -> dict[str, Sequence[Bar]]:
    """Bars by symbol from files and/or folders (a large file's as a ``BarSeries``: columns, see
    ``core.market_data.bar_series``).

    ``symbol`` overrides the name-derived symbol (only with a single file); ``symbols`` keeps just
    those symbols (an asked-for symbol with no file is an error); ``regular_hours_only`` keeps
    bars starting 09:30–16:00 New York time.
    """
    paths = [p for source in ([sources] if isinstance(sources, Path) else sources) for p in data_files(source)]
    if symbol is not None and len(paths) != 1:
        raise DataError(f"a symbol ({symbol}) can only be given for a single file, not {len(paths)}")
    wanted = {s.upper() for s in symbols} if symbols else None
    by_symbol: dict[str, list[tuple[Path, Sequence[Bar]]]] = {}
    for path in paths:
        name = symbol.upper() if symbol else symbol_from_path(path)
        if wanted is not None and name not in wanted:
            continue
        by_symbol.setdefault(name, []).append((path, read_any(path, name)))
    if wanted is not None:
        absent = sorted(wanted - by_symbol.keys())
        if absent:
            raise DataError(f"no data for symbol(s) {', '.join(absent)} in {', '.join(map(str, paths))}")
    result: dict[str, Sequence[Bar]] = {}
    for name, loaded in by_symbol.items():
        parts = sorted((p for p in loaded if p[1]), key=lambda part: part[1][0].timestamp)
        for (prev_path, prev_bars), (path, bars) in pairwise(parts):
            if bars[0].timestamp <= prev_bars[-1].timestamp:
                raise DataError(f"{path}: overlaps {prev_path} (both hold {name} bars at the same time)")
        joined = _joined([bars for _, bars in parts])
        if regular_hours_only:
            if isinstance(joined, BarSeries):
                joined = joined.regular_session()
            else:
                regular = SessionRule().in_regular_session
                joined = [bar for bar in joined if regular(bar.timestamp)]
        if joined:
            result[name] = joined
    if not result:
        raise DataError("no bars left to load" + (" after the regular-hours filter" if regular_hours_only else ""))
    return result


def _joined(parts: Sequence[Sequence[Bar]]) -> Sequence[Bar]:
    """One symbol's parts, in time order, as one sequence: columns stay columns (a large file
    read by ``csv_columns`` or Parquet is a ``BarSeries``); a mix becomes a list."""
    if len(parts) == 1:
        return parts[0]
    series = [p for p in parts if isinstance(p, BarSeries)]
    if series and len(series) == len(parts):
        return BarSeries.concat(series)
    return [bar for part in parts for bar in part]
