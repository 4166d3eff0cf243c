"""``qterm reconcile``: compare local state with the broker's, adopt the broker's, report drifts."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from quantterminal.core.settings import DEFAULT_ACCOUNT
from quantterminal.core.trading.broker import BrokerRejected, BrokerUnavailable
from quantterminal.wiring.factories import DEFAULT_DATABASE_URL

DESCRIPTION = (
    "Compare the state store's open orders and positions with Alpaca's (keys from "
    "APCA_API_KEY_ID / APCA_API_SECRET_KEY; paper unless ALPACA_PAPER=false). Every drift is "
    "recorded as a risk event and the broker's truth adopted; trading stays halted if that fails. "
    "Exit status: 0 in agreement, 1 drifts found and resolved, 2 error."
)


def register(parser: argparse.ArgumentParser) -> None:
    """The options of ``qterm reconcile``."""
    parser.add_argument(
        "--account", default=DEFAULT_ACCOUNT, help=f"account name in the state store (default {DEFAULT_ACCOUNT})"
    )
    parser.add_argument("--redis", metavar="URL", help="state store URL (default: $REDIS_URL, else memory://)")
    parser.add_argument(
        "--database",
        metavar="URL",
        help=f"ledger for risk events (default: $DATABASE_URL, else {DEFAULT_DATABASE_URL})",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Handle ``qterm reconcile``."""
    # Imported here: the runtime brings in alpaca-py, pandas and boto3, which ``--help`` must not wait for.
    from quantterminal.core.trading.reconcile import Reconciler  # noqa: PLC0415
    from quantterminal.wiring.runtime import operator_runtime  # noqa: PLC0415

    try:
        alert = lambda m: print(f"ALERT {m}", file=sys.stderr)  # noqa: E731 - a one-line sink
        runtime = operator_runtime(args.account, args.redis, args.database, alert)
        drifts = Reconciler(runtime.store, runtime.broker, runtime.gate).run(datetime.now(UTC))
    except (BrokerRejected, BrokerUnavailable, ValueError, RuntimeError, OSError) as exc:
        print(f"qterm reconcile: error: {exc}", file=sys.stderr)
        return 2
    if not drifts:
        print(f"{args.account}: local state agrees with the broker")
        return 0
    for drift in drifts:
        print(f"resolved: {drift.describe()}")
    print(f"{args.account}: {len(drifts)} drift(s) resolved; the broker's state was adopted")
    return 1
