"""``qterm replay-server``: serve real bars over a local websocket speaking Alpaca's protocol."""

from __future__ import annotations

import argparse
import sys
import time

from quantterminal.errors import DataError
from quantterminal.wiring.replay import Chaos, open_replay_server


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


DESCRIPTION = (
    "Replay minute bars from CSV files as Alpaca market data stream v2 messages on "
    "ws://127.0.0.1:PORT, for testing the feed and for the local demo. Credentials: key and secret "
    "'replay'. Runs until interrupted."
)


def register(parser: argparse.ArgumentParser) -> None:
    """The options of ``qterm replay-server``."""
    parser.add_argument("--data", default="sample:lean_2013", metavar="FILE_OR_DIR", help="CSV bars or sample:NAME")
    parser.add_argument("--rth", action="store_true", help="regular trading hours only")
    parser.add_argument("--port", type=_count, default=8765, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument(
        "--speed",
        type=float,
        default=60.0,
        help="minutes of market time per second (default 60; 0: as fast as possible)",
    )
    add_chaos_arguments(parser)
    parser.add_argument("--protocol", choices=("alpaca", "polygon"), default="alpaca", help="stream protocol to speak")
    parser.set_defaults(handler=run)


def add_chaos_arguments(parser: argparse.ArgumentParser) -> None:
    """The replay server's chaos options (shared by ``replay-server`` and ``feed``)."""
    chaos = parser.add_argument_group("chaos (replay server)")
    chaos.add_argument("--drop-every", type=_count, default=0, metavar="N", help="drop the connection every N bars")
    chaos.add_argument("--silence-every", type=_count, default=0, metavar="N", help="go silent every N bars ...")
    chaos.add_argument("--silence-seconds", type=float, default=10.0, metavar="S", help="... for S seconds")
    chaos.add_argument("--garbage-every", type=_count, default=0, metavar="N", help="send a garbage frame every N bars")
    chaos.add_argument(
        "--hang-every", type=_count, default=0, metavar="N", help="let the link go dead (no pongs) every N bars"
    )
    chaos.add_argument(
        "--hostile-every", type=_count, default=0, metavar="N", help="send a hostile frame every N bars (see docs)"
    )
    chaos.add_argument("--refuse-auth", action="store_true", help="refuse every login (auth error)")
    chaos.add_argument("--connection-limit", action="store_true", help="refuse with the connection-limit error")


def chaos_from(args: argparse.Namespace) -> Chaos:
    """The ``Chaos`` the parsed chaos options ask for."""
    return Chaos(
        args.drop_every,
        args.silence_every,
        args.silence_seconds,
        args.garbage_every,
        args.refuse_auth,
        args.connection_limit,
        args.hostile_every,
        args.hang_every,
    )


def run(args: argparse.Namespace) -> int:
    """Handle ``qterm replay-server``."""
    try:
        server, bars = open_replay_server(args.data, args.rth, args.port, args.speed, chaos_from(args), args.protocol)
    except DataError as exc:
        print(f"qterm replay-server: error: {exc}", file=sys.stderr)
        return 2
    total = sum(len(s) for s in bars.values())
    with server:
        print(f"replaying {total:,} bars of {', '.join(sorted(bars))} on {server.url} (key/secret: replay)", flush=True)
        try:
            while True:  # the server runs in its own thread; wait here for Ctrl-C
                time.sleep(3600)
        except KeyboardInterrupt:
            print(f"stopped after {server.sent:,} bars sent", flush=True)
    return 0
