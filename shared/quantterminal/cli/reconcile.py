"""``qterm reconcile``: compare local state with the broker's, adopt the broker's, report drifts."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from quantterminal.adapters.broker.alpaca_broker import AlpacaBroker
from quantterminal.core.risk.gate import RiskGate
from quantterminal.core.settings import DEFAULT_ACCOUNT
from quantterminal.core.trading.broker import BrokerRejected, BrokerUnavailable
from quantterminal.core.trading.reconcile import Reconciler
from quantterminal.wiring.factories import DEFAULT_DATABASE_URL, open_ledger, open_state_store

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
    try:
        broker = AlpacaBroker.from_env()
        store = open_state_store(args.redis)
        ledger = open_ledger(args.database)
        ledger.migrate()
        gate = RiskGate(store, args.account, ledger=ledger, alert=lambda m: print(f"ALERT {m}", file=sys.stderr))
        drifts = Reconciler(store, broker, gate).run(datetime.now(UTC))
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
