"""``qterm paper``: the whole pipeline on one machine, no AWS account.

replay server (real bars) -> feed -> in-process bus -> the bar handler's and order events' code
(``TradingDesk``) -> simulated broker -> state store -> ledger, with the HTTP API and the dashboard
on http://127.0.0.1:PORT. At the end: a summary and the divergence report against the backtest.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from quantterminal.cli.arguments import add_strategy_overrides
from quantterminal.cli.db import DATABASE_HELP
from quantterminal.cli.feed import add_feed_arguments
from quantterminal.wiring.outages import OUTAGE_BUDGET_SECONDS

DESCRIPTION = (
    "Run the full pipeline locally: the feed (a replay of real bars by default), the same "
    "decision and order-update code the Lambdas run, the simulated broker (or an Alpaca paper account), "
    "the state store and the ledger, with the HTTP API and dashboard on loopback. Ends with a summary "
    "and the divergence report against the backtest of the same bars."
)


def register(parser: argparse.ArgumentParser) -> None:
    """The options of ``qterm paper``."""
    add_feed_arguments(parser)
    parser.add_argument("--days", type=int, help="replay only the first N trading days")
    parser.add_argument(
        "--strategy",
        "--strategies",
        dest="strategy",
        metavar="SPEC[,SPEC...]",
        help="as qterm backtest: with --config, only these instances of the file; without, built-in names,"
        " 'all', path.py:Class or module:Class on one account (default: every instance of the configuration)",
    )
    add_strategy_overrides(parser)
    parser.add_argument("--database", help=DATABASE_HELP)
    parser.add_argument("--redis", metavar="URL", help="state store (default: $REDIS_URL, else in-process memory)")
    parser.add_argument(
        "--broker", choices=("sim", "alpaca"), help="simulated, or Alpaca with APCA_* keys (default: [broker].kind)"
    )
    parser.add_argument("--account", help="the account's name in the ledger and state (default: the configuration's)")
    parser.add_argument("--port", type=int, default=8787, help="API and dashboard port (0: any free one)")
    parser.add_argument("--no-api", action="store_true", help="no HTTP API or dashboard")
    parser.add_argument(
        "--api-cache-ms", type=float, default=100, metavar="MS", help="reuse GET answers this long (0: never)"
    )
    parser.add_argument(
        "--outage-budget",
        type=float,
        default=OUTAGE_BUDGET_SECONDS,
        metavar="SECONDS",
        help="wait this long for a state store or ledger that went away (trading resumes where it stopped,"
        f" nothing skipped), then stop (default {OUTAGE_BUDGET_SECONDS:g})",
    )
    parser.add_argument("--hold", action="store_true", help="keep the API and dashboard up after the run (Ctrl-C)")
    parser.add_argument("--out", type=Path, help="write the divergence plot and manifest.json here")
    parser.add_argument("--overwrite", action="store_true", help="replace the outputs of an earlier run in --out")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Handle ``qterm paper`` (the run and its adapters live in ``paper_run``: ``--help`` stays quick)."""
    from quantterminal.cli.paper_run import run as run_paper  # noqa: PLC0415

    return run_paper(args)
