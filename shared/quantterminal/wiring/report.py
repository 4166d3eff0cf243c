"""``qterm report`` composed: a run read back (a backtest's output folder, or a paper/live run from
a ledger), the benchmark's session closes from a data source, and the tearsheet written as one
self-contained HTML file. Imported only when reporting: the tearsheet brings matplotlib."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from quantterminal.adapters.reports import tearsheet
from quantterminal.core.reporting.instance_equity import session_closes as closes_by_session
from quantterminal.wiring.data_files import bars_in_files, read_bars
from quantterminal.wiring.factories import open_ledger


def write_tearsheet(
    out: Path,
    run: Path | None = None,
    database: str | None = None,
    account: str = "",
    days: tuple[date, date] | None = None,
    benchmark: str | None = None,
    data: str | None = None,
) -> Path:
    """The tearsheet of the backtest folder ``run``, or of ``account``'s run in the ledger at
    ``database`` over ``days`` (first and last, inclusive), beside buy-and-hold of ``benchmark``
    (default: the traded symbols) read from ``data`` (default: the run's own data files)."""
    if run is not None:
        found = tearsheet.run_from_folder(run)
    else:
        if database is None or days is None:
            raise ValueError("a ledger run needs --database, --start and --end")
        ledger = open_ledger(database, create=False)
        try:
            start = datetime.combine(days[0], time(), UTC)
            end = datetime.combine(days[1] + timedelta(days=1), time(), UTC)
            found = tearsheet.run_from_ledger(ledger, account, start, end)
        finally:
            ledger.close()
    symbols = [benchmark.upper()] if benchmark else found.symbols
    out.write_text(tearsheet.render(found, session_closes(data, found.data_files, symbols)), encoding="utf-8")
    return out


def session_closes(
    source: str | None, files: Sequence[Path], symbols: Sequence[str]
) -> dict[str, list[tuple[date, float]]]:
    """Each symbol's last regular-hours close of every session, from ``source`` or the run's files
    (a daily bar is its session's close, whatever time it is stamped at: midnight, usually)."""
    if not symbols:
        return {}
    bars = read_bars(source, symbols)[0] if source is not None else bars_in_files(files, symbols)
    by_session = closes_by_session(bars)
    return {s: sorted((d, float(c[s])) for d, c in by_session.items() if s in c) for s in bars}
