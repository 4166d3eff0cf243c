"""``qterm``: the QuantTerminal command line.

Subcommands wire adapters around the core; they hold no trading logic of their own.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from quantterminal import __version__
from quantterminal.cli import backtest, db, divergence, feed, paper, reconcile, redrive, replay
from quantterminal.cli.errors import describe_failure


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, then a non-zero exit."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``qterm`` parser with every subcommand."""
    parser = _Parser(
        prog="qterm",
        description="QuantTerminal: take a strategy from backtest to live trading.",
    )
    parser.add_argument("--version", action="version", version=f"qterm {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    backtest.register(commands)
    db.register(commands)
    divergence.register(commands)
    feed.register(commands)
    paper.register(commands)
    reconcile.register(commands)
    redrive.register(commands)
    replay.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``qterm`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("qterm: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        problem = describe_failure(exc)
        if problem is None:
            raise  # a bug: keep the traceback
        print(f"qterm {args.command}: error: {problem}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
