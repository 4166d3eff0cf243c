"""``qterm report``: a tearsheet (one self-contained HTML file) for a backtest or a ledger run."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from quantterminal.cli.arguments import iso_date
from quantterminal.core.models import Bar
from quantterminal.core.settings import DEFAULT_ACCOUNT

DESCRIPTION = """Turn a backtest's output folder (qterm backtest --out DIR) or a paper/live run in a ledger
(--database URL --account NAME --start --end) into one self-contained HTML tearsheet: equity with
drawdown underneath beside buy-and-hold of the traded symbols (or --benchmark SYMBOL), monthly
returns, rolling Sharpe, the return distribution, fills with slippage, risk refusals by rule, and
the configuration and data manifest. It opens without a network."""


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", nargs="?", type=Path, metavar="DIR", help="a qterm backtest --out folder")
    parser.add_argument("--database", metavar="URL", help="report a paper/live run from this ledger instead")
    parser.add_argument(
        "--account", default=DEFAULT_ACCOUNT, help=f"the ledger run's account (default {DEFAULT_ACCOUNT})"
    )
    parser.add_argument("--start", type=iso_date, metavar="YYYY-MM-DD", help="first day of the ledger run")
    parser.add_argument("--end", type=iso_date, metavar="YYYY-MM-DD", help="last day of the ledger run")
    parser.add_argument("--benchmark", metavar="SYMBOL", help="buy and hold this symbol (default: the traded ones)")
    parser.add_argument("--data", metavar="SOURCE", help="bars for the benchmark (default: the run's data files)")
    parser.add_argument("--out", type=Path, metavar="FILE", help="the HTML file (default: DIR/tearsheet.html)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Handle ``qterm report``."""
    from quantterminal.adapters.ledger.ledger_base import LedgerError  # noqa: PLC0415
    from quantterminal.adapters.market_data.csv_bars import DataError  # noqa: PLC0415
    from quantterminal.adapters.reports import tearsheet  # noqa: PLC0415 - matplotlib only when reporting

    try:
        if (args.run is None) == (args.database is None):
            raise ValueError("give either a backtest output folder or --database (with --start and --end)")
        if args.run is not None:
            data = tearsheet.run_from_folder(args.run)
            out = args.out or args.run / "tearsheet.html"
        else:
            from quantterminal.wiring.factories import open_ledger  # noqa: PLC0415

            if args.start is None or args.end is None:
                raise ValueError("a ledger run needs --start and --end")
            ledger = open_ledger(args.database, create=False)
            try:
                start = datetime.combine(args.start, time(), UTC)
                data = tearsheet.run_from_ledger(
                    ledger, args.account, start, datetime.combine(args.end + timedelta(days=1), time(), UTC)
                )
            finally:
                ledger.close()
            if args.out is None:
                raise ValueError("a ledger run needs --out FILE")
            out = args.out
        symbols = [args.benchmark.upper()] if args.benchmark else data.symbols
        closes = session_closes(args.data, data.data_files, symbols)
        out.write_text(tearsheet.render(data, closes), encoding="utf-8")
    except (ValueError, OSError, DataError, LedgerError) as exc:
        print(f"qterm report: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out} ({out.stat().st_size / 1024:,.0f} KiB; open it in any browser, no network needed)")
    return 0


def session_closes(
    source: str | None, files: Sequence[Path], symbols: Sequence[str]
) -> dict[str, list[tuple[date, float]]]:
    """Each symbol's last regular-hours close of every session, from ``source`` or the run's files."""
    from quantterminal.adapters.market_data.csv_bars import load_bars, resolve_source  # noqa: PLC0415
    from quantterminal.core.market_data.calendar import SessionRule  # noqa: PLC0415
    from quantterminal.core.market_data.sessions import session_date  # noqa: PLC0415

    if not symbols:
        return {}
    if source is not None:
        bars = load_bars(resolve_source(source), symbols=list(symbols))
    else:
        existing = [p for p in files if p.is_file()]
        if not existing:
            return {}
        bars = load_bars(existing, symbols=list(symbols))
    out: dict[str, list[tuple[date, float]]] = {}
    regular = SessionRule().in_regular_session
    for symbol, series in bars.items():
        last: dict[date, Bar] = {}
        for bar in series:
            if regular(bar.timestamp):
                last[session_date(bar.timestamp)] = bar
        out[symbol] = sorted((d, b.close) for d, b in last.items())
    return out
