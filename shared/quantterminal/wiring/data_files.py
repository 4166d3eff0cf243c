"""Where a command's bars come from: a shipped sample (``sample:NAME``), a CSV or Parquet file or
folder, or a ledger (a database URL). The commands name a source; this opens it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from quantterminal.adapters.market_data.csv_bars import (
    data_files,
    load_bars,
    resolve_source,
    sample_sets,
    symbol_from_path,
)
from quantterminal.core.market_data.bar_series import bars_between
from quantterminal.core.models import Bar
from quantterminal.errors import DataError, redact
from quantterminal.wiring.factories import is_database_url, open_ledger

_EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
_LATEST = datetime(2200, 1, 1, tzinfo=UTC)

__all__ = ["bars_in_files", "read_bars", "sample_names", "symbols_held"]


def sample_names() -> list[str]:
    """The data sets shipped with the package (``sample:NAME``)."""
    return sample_sets()


def read_bars(
    data: str,
    symbols: Sequence[str] | None = None,
    symbol: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    regular_hours_only: bool = False,
) -> tuple[dict[str, Sequence[Bar]], list[Path]]:
    """Bars by symbol from ``data`` in [``start``, ``end``), and the files read (none from a
    ledger). ``DataError`` when nothing is left, or a symbol asked for has no bars in a ledger."""
    files: list[Path] = []
    bars: dict[str, Sequence[Bar]]
    if is_database_url(data):
        ledger = open_ledger(data, create=False)
        try:
            bars = dict(ledger.bars_between(start or _EARLIEST, end or _LATEST, symbols))
        finally:
            ledger.close()
        if symbols:
            absent = sorted({s.upper() for s in symbols} - bars.keys())
            if absent:
                raise DataError(f"no bars for {', '.join(absent)} in {redact(data)}")
    else:
        source = resolve_source(data)
        files = data_files(source)
        bars = load_bars(source, symbols=symbols, symbol=symbol, regular_hours_only=regular_hours_only)
        if start or end:
            lo, hi = start or _EARLIEST, end or _LATEST
            bars = {s: bars_between(series, lo, hi) for s, series in bars.items()}
    bars = {s: series for s, series in bars.items() if series}
    if not bars:
        raise DataError(f"no bars in {redact(data)} for the dates and hours asked for")
    return bars, files


def bars_in_files(files: Sequence[Path], symbols: Sequence[str]) -> dict[str, Sequence[Bar]]:
    """The bars of ``symbols`` in those of ``files`` that still exist (a run's inputs, re-read)."""
    existing = [p for p in files if p.is_file()]
    return load_bars(existing, symbols=list(symbols)) if existing else {}


def symbols_held(data: str) -> set[str]:
    """The symbols a file source has bars of, by file name (a ledger URL is not opened)."""
    return {symbol_from_path(p) for p in data_files(resolve_source(data))}
