"""``qterm data download``: historical bars from Alpaca or Polygon into Parquet files or a ledger."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from quantterminal.cli.arguments import iso_date
from quantterminal.errors import DownloadError, LedgerError, ParquetUnavailableError, SecretError, redact

DESCRIPTION = """Download minute or daily bars for symbols and a date range from Alpaca's historical API
(--feed iex or sip, --adjustment) or Polygon's aggregates, into Parquet files that --data reads
(--out DIR, one file a symbol and month) or into a ledger (--database URL, minute bars). Run the same
command again to resume: finished months are skipped. Keys come from the environment
(APCA_API_KEY_ID and APCA_API_SECRET_KEY, or POLYGON_API_KEY; or ALPACA_SECRET_ID/POLYGON_SECRET_ID
naming a Secrets Manager secret) and are never printed."""

EPILOG = """examples:
  qterm data download --symbols SPY QQQ --start 2024-01-01 --end 2024-06-30 --out data/
  qterm data download --symbols SPY --start 2020-01-01 --end 2024-12-31 --timeframe 1day --adjustment all --out daily/
  qterm data download --source polygon --symbols AAPL --start 2024-01-01 --end 2024-01-31 --database "$DATABASE_URL"
  qterm backtest --strategy momentum --data data/"""


def register(parser: argparse.ArgumentParser) -> None:
    """The options of ``qterm data``."""
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True, parser_class=type(parser))
    fetch = sub.add_parser(
        "download",
        help="fetch historical bars (resumes where it stopped)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fetch.add_argument("--symbols", nargs="+", required=True, metavar="SYM", help="the symbols to fetch")
    fetch.add_argument("--start", type=iso_date, required=True, metavar="YYYY-MM-DD", help="first day (New York)")
    fetch.add_argument("--end", type=iso_date, required=True, metavar="YYYY-MM-DD", help="last day, included")
    fetch.add_argument("--timeframe", choices=("1min", "1day"), default="1min", help="bar size (default 1min)")
    fetch.add_argument("--source", choices=("alpaca", "polygon"), default="alpaca", help="provider (default alpaca)")
    fetch.add_argument("--feed", choices=("iex", "sip"), default="iex", help="Alpaca's feed (default iex)")
    fetch.add_argument(
        "--adjustment",
        choices=("raw", "split", "dividend", "all"),
        help="price adjustment (default: raw for Alpaca, split for Polygon, which offers raw and split)",
    )
    where = fetch.add_mutually_exclusive_group()
    where.add_argument("--out", type=Path, metavar="DIR", help="Parquet files in this folder (default data/)")
    where.add_argument("--database", metavar="URL", help="into this ledger instead (minute bars)")
    fetch.add_argument("--url", metavar="URL", help="the provider's base URL (default: $APCA_DATA_URL / $POLYGON_URL)")
    fetch.set_defaults(handler=run_download)


def run_download(args: argparse.Namespace) -> int:
    """Handle ``qterm data download``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: PLC0415

    from quantterminal.cli.console import wide_console  # noqa: PLC0415
    from quantterminal.wiring import download as wiring  # noqa: PLC0415

    console = wide_console()
    symbols = sorted({s.strip().upper() for s in args.symbols if s.strip()})
    try:
        if args.start > args.end:
            raise ValueError(f"--start {args.start} is after --end {args.end}")
        chunks = wiring.plan(symbols, args.start, args.end, datetime.now(UTC), args.source, args.feed)
        if not chunks:
            raise ValueError(f"nothing to fetch: {args.start} is in the future")
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rows]:,} rows"),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            task = bar.add_task("starting", total=len(chunks), rows=0)
            job = wiring.prepare(
                args.source,
                args.timeframe,
                None,  # the process environment
                lambda seconds, why: bar.update(task, description=why[:60]),
                args.feed,
                args.adjustment,
                args.url,
                args.database,
                args.out,
            )
            try:
                report = wiring.download(
                    job.source,
                    job.target,
                    chunks,
                    args.timeframe,
                    on_chunk=lambda c, state: bar.update(
                        task, description=f"{c.symbol} {c.month}: {state}", advance=0 if state == "fetching" else 1
                    ),
                    on_rows=lambda n: bar.update(task, rows=bar.tasks[0].fields["rows"] + n),
                    on_done=lambda c: bar.update(task, advance=1),
                )
            finally:
                job.close()
    except (DownloadError, SecretError, ParquetUnavailableError, LedgerError, ValueError, OSError) as exc:
        print(f"qterm data download: error: {exc}", file=sys.stderr)
        return 2
    rate = report.rows / max(report.seconds, 1e-9)
    where = redact(args.database) if args.database else f"{job.folder}/"
    console.print(
        f"{report.rows:,} bars of {', '.join(symbols)} from {job.source.name} into {where}: "
        f"{report.chunks - report.skipped} month(s) fetched, {report.skipped} done before; "
        f"{job.http.requests} requests in {report.seconds:.1f} s ({rate:,.0f} rows/s"
        + (f", {job.http.waited:.1f} s waiting on rate limits and retries)" if job.http.waited >= 0.05 else ")"),
        highlight=False,
    )
    return 0
