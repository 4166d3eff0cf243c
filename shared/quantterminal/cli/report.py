"""``qterm report``: a tearsheet (one self-contained HTML file) for a backtest or a ledger run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from quantterminal.cli.arguments import iso_date
from quantterminal.core.settings import DEFAULT_ACCOUNT
from quantterminal.errors import DataError, LedgerError

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
    from quantterminal.wiring.report import write_tearsheet  # noqa: PLC0415 - matplotlib only when reporting

    try:
        if (args.run is None) == (args.database is None):
            raise ValueError("give either a backtest output folder or --database (with --start and --end)")
        if args.run is None and (args.start is None or args.end is None):
            raise ValueError("a ledger run needs --start and --end")
        if args.run is None and args.out is None:
            raise ValueError("a ledger run needs --out FILE")
        out = write_tearsheet(
            args.out or args.run / "tearsheet.html",
            run=args.run,
            database=args.database,
            account=args.account,
            days=None if args.run is not None else (args.start, args.end),
            benchmark=args.benchmark,
            data=args.data,
        )
    except (ValueError, OSError, DataError, LedgerError) as exc:
        print(f"qterm report: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out} ({out.stat().st_size / 1024:,.0f} KiB; open it in any browser, no network needed)")
    return 0
