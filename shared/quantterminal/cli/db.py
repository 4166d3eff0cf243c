"""``qterm db``: create, inspect and maintain the ledger (PostgreSQL or the embedded SQLite file)."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta

from quantterminal.cli.arguments import positive_int
from quantterminal.errors import DataError, LedgerError, MigrationError, redact
from quantterminal.wiring.data_files import read_bars
from quantterminal.wiring.factories import DEFAULT_DATABASE_URL, database_url, open_ledger

DATABASE_HELP = f"ledger URL: postgresql://... or sqlite:///FILE (default: $DATABASE_URL, else {DEFAULT_DATABASE_URL})"
_ERRORS = (DataError, LedgerError, MigrationError, ValueError, OSError)


DESCRIPTION = "Create, inspect and maintain the ledger database."


def register(parser: argparse.ArgumentParser) -> None:
    """The options of ``qterm db``."""
    sub = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True, parser_class=type(parser))

    migrate = sub.add_parser("migrate", help="apply pending schema migrations (idempotent, safe concurrently)")
    migrate.add_argument("--database", metavar="URL", help=DATABASE_HELP)
    migrate.add_argument(
        "--ahead-days",
        type=positive_int,
        default=7,
        help="create time partitions this many days ahead (PostgreSQL; default 7)",
    )
    migrate.set_defaults(handler=run_migrate)

    status = sub.add_parser("status", help="applied migrations and time partitions")
    status.add_argument("--database", metavar="URL", help=DATABASE_HELP)
    status.set_defaults(handler=run_status)

    retention = sub.add_parser("retention", help="drop bars and ticks older than N days (shows what first; --yes)")
    retention.add_argument(
        "--keep-days",
        type=positive_int,
        required=True,
        metavar="N",
        help="keep this many days of bars and ticks (orders, fills and events are kept)",
    )
    retention.add_argument("--database", metavar="URL", help=DATABASE_HELP)
    retention.add_argument("--yes", action="store_true", help="really drop (without it: only show what would go)")
    retention.set_defaults(handler=run_retention)

    quarantine = sub.add_parser("quarantine", help="records the ledger could not take, with the reason")
    quarantine.add_argument("--limit", type=positive_int, default=20, metavar="N", help="the latest N (default 20)")
    quarantine.add_argument("--database", metavar="URL", help=DATABASE_HELP)
    quarantine.set_defaults(handler=run_quarantine)

    ingest = sub.add_parser("ingest", help="load CSV bars into the ledger (idempotent)")
    ingest.add_argument("--data", required=True, metavar="FILE_OR_DIR", help="CSV file or folder, or sample:NAME")
    ingest.add_argument("--symbols", nargs="+", metavar="SYM", help="only these symbols")
    ingest.add_argument("--rth", action="store_true", help="regular trading hours only")
    ingest.add_argument("--database", metavar="URL", help=DATABASE_HELP)
    ingest.set_defaults(handler=run_ingest)


def _fail(exc: BaseException) -> int:
    print(f"qterm db: error: {exc}", file=sys.stderr)
    return 2


def run_migrate(args: argparse.Namespace) -> int:
    try:
        ledger = open_ledger(args.database)
        applied = ledger.migrate(ahead_days=args.ahead_days)
    except _ERRORS as exc:
        return _fail(exc)
    target = redact(database_url(args.database))
    print(f"{target}: applied {', '.join(applied)}" if applied else f"{target}: schema is up to date")
    ledger.close()
    return 0


def run_status(args: argparse.Namespace) -> int:
    try:
        ledger = open_ledger(args.database, create=False)
        migrations = ledger.applied_migrations()
        partitions = ledger.partitions()
    except _ERRORS as exc:
        return _fail(exc)
    print(f"database: {redact(database_url(args.database))}")
    print(f"migrations: {', '.join(migrations) or 'none (run: qterm db migrate)'}")
    if partitions:
        bars = [p for p in partitions if p.startswith("bars_")]
        ticks = [p for p in partitions if p.startswith("ticks_")]
        print(
            f"partitions: {len(bars)} bar months ({bars[0]}..{bars[-1]}), "
            f"{len(ticks)} tick days ({ticks[0] if ticks else '-'}..{ticks[-1] if ticks else '-'})"
        )
    ledger.close()
    return 0


def run_retention(args: argparse.Namespace) -> int:
    cutoff = datetime.now(UTC) - timedelta(days=args.keep_days)
    try:
        ledger = open_ledger(args.database, create=False)
        dropped = ledger.drop_before(cutoff, dry_run=not args.yes)
        if args.yes:
            ledger.maintain()
    except _ERRORS as exc:
        return _fail(exc)
    if not args.yes:
        print(f"would drop bars and ticks before {cutoff:%Y-%m-%d %H:%M}Z: {', '.join(dropped) or 'nothing'}")
        print("nothing was dropped; run again with --yes to drop it")
        ledger.close()
        return 0
    print(f"kept data from {cutoff:%Y-%m-%d %H:%M}Z on; dropped: {', '.join(dropped) or 'nothing'}")
    ledger.close()
    return 0


def run_ingest(args: argparse.Namespace) -> int:
    try:
        bars, _ = read_bars(args.data, args.symbols, regular_hours_only=args.rth)
        ledger = open_ledger(args.database, create=False)
        started = time.perf_counter()
        report = ledger.ingest_bars([b for series in bars.values() for b in series])
        elapsed = time.perf_counter() - started
    except _ERRORS as exc:
        return _fail(exc)
    print(
        f"{report.total:,} bars of {', '.join(sorted(bars))}: {report.inserted:,} new, {report.revised:,} revised, "
        f"{report.unchanged:,} unchanged ({report.total / max(elapsed, 1e-9):,.0f} rows/s)"
    )
    ledger.close()
    return 0


def run_quarantine(args: argparse.Namespace) -> int:
    try:
        ledger = open_ledger(args.database, create=False)
        kept = ledger.quarantined(args.limit)
    except _ERRORS as exc:
        return _fail(exc)
    if not kept:
        print("quarantine is empty")
    for record in kept:
        print(f"{record.recorded_at:%Y-%m-%d %H:%M:%S}Z {record.kind}: {record.reason}\n    {record.record[:300]}")
    ledger.close()
    return 0
