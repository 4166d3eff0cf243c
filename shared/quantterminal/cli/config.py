"""``qterm config``: check a configuration file, or show the configuration in force -- and the
``--config`` option every command that trades shares."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from quantterminal.errors import DataError

if TYPE_CHECKING:
    from quantterminal.config.load import LoadedConfig

DESCRIPTION = (
    "check: validate a configuration file (strategy specs loaded, parameters checked, allocations "
    "shared out); exit status 0 if it is usable, 2 with one line naming the file and the key if not. "
    "show: print the configuration in force (every default filled in) as TOML -- a starting point "
    "for your own file."
)
CONFIG_HELP = "configuration file (TOML; default: the shipped configuration, see qterm config show)"


def register(parser: argparse.ArgumentParser) -> None:
    """The options of ``qterm config``."""
    sub = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True, parser_class=type(parser))
    check = sub.add_parser("check", help="validate a configuration file")
    check.add_argument("file", type=Path, help="the TOML file")
    check.set_defaults(handler=run_check)
    show = sub.add_parser("show", help="print the configuration in force as TOML")
    show.add_argument("--config", type=Path, metavar="FILE", help=CONFIG_HELP)
    show.set_defaults(handler=run_show)


def run_check(args: argparse.Namespace) -> int:
    """Handle ``qterm config check``."""
    loaded = _load(args.file, "check")
    if loaded is None:
        return 2
    c = loaded.config
    problems = loaded.dry_run()
    if problems:
        print(f"qterm config check: error: {loaded.source}: {'; '.join(problems)}", file=sys.stderr)
        return 2
    print(f"{loaded.source}: ok -- account {c.account!r}, broker {c.broker.kind}, {len(c.data.symbols)} symbols")
    for i in loaded.instances:
        symbols = "all symbols" if i.symbols is None else ", ".join(sorted(i.symbols))
        print(f"  {i.name}: {i.spec} ({i.strategy.__name__}), allocation {i.capital_share:.2%}, {symbols}")
    if c.live:
        print("  LIVE: orders go to a real-money Alpaca account")
    for warning in _data_warnings(loaded):
        print(f"  warning: {warning}")
    return 0


def _data_warnings(loaded: LoadedConfig) -> list[str]:
    """The traded symbols that the backtest or replay data named in ``[data]`` holds no bars for
    (a ledger URL is not opened: checking a file must not need a database)."""
    from quantterminal.wiring.data_files import symbols_held  # noqa: PLC0415
    from quantterminal.wiring.factories import is_database_url  # noqa: PLC0415

    data = loaded.config.data
    warnings = []
    for role, where in (("backtest", data.backtest), ("replay", data.replay)):
        if is_database_url(where):
            continue
        try:
            held = symbols_held(where)
        except (DataError, ValueError) as exc:
            warnings.append(f"data.{role} {where!r}: {exc}")
            continue
        missing = [s for s in data.symbols if s not in held]
        if missing:
            warnings.append(f"data.{role} {where!r} holds no bars of {', '.join(missing)} (data.symbols)")
    return warnings


def run_show(args: argparse.Namespace) -> int:
    """Handle ``qterm config show``."""
    loaded = _load(args.config, "show")
    if loaded is None:
        return 2
    print(f"# the configuration in force ({loaded.source})")
    print(loaded.toml(), end="")
    return 0


def _load(path: Path | None, action: str) -> LoadedConfig | None:
    """The configuration, or ``None`` after saying in one line why it cannot be used."""
    from quantterminal.config.load import ConfigError, load_config  # noqa: PLC0415 - `--help` stays quick

    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"qterm config {action}: error: {exc}", file=sys.stderr)
        return None


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE", help=CONFIG_HELP)
