"""``qterm``: the QuantTerminal command line.

Subcommands wire adapters around the core; they hold no trading logic of their own.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from quantterminal import __version__
from quantterminal.cli.commands import COMMANDS
from quantterminal.cli.errors import describe_failure
from quantterminal.wiring.console_logging import configure_logging


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, then a non-zero exit."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The ``qterm`` parser. Only the command named in ``argv`` is imported and given its options;
    the others are listed by name and help (so ``qterm --help`` imports no command at all)."""
    parser = _Parser(
        prog="qterm",
        description="QuantTerminal: take a strategy from backtest to live trading.",
    )
    parser.add_argument("--version", action="version", version=f"qterm {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="also log progress and each retry of a service call"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, command in COMMANDS.items():
        if name == chosen:
            module = importlib.import_module(command.module)
            epilog = getattr(module, "EPILOG", None)
            module.register(
                commands.add_parser(
                    name,
                    help=command.help,
                    description=module.DESCRIPTION,
                    epilog=epilog,
                    formatter_class=argparse.RawDescriptionHelpFormatter if epilog else argparse.HelpFormatter,
                )
            )
        else:
            commands.add_parser(name, help=command.help)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``qterm`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    configure_logging(verbose=args.verbose)
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
