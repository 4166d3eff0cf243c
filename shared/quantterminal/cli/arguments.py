"""Argument types the commands share: each turns one command-line word into a value or a one-line
``ArgumentTypeError`` naming what is wrong (argparse then exits with status 2)."""

from __future__ import annotations

import argparse
from datetime import date
from decimal import Decimal, InvalidOperation

from quantterminal.core.market_data.calendar import SESSIONS
from quantterminal.core.simulation.execution import PerShareCommission


def decimal(text: str, name: str, minimum: Decimal | None = None) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
    if not value.is_finite():
        raise argparse.ArgumentTypeError(f"{name} must be finite, got {text!r}")
    if minimum is not None and value < minimum:
        raise argparse.ArgumentTypeError(f"{name} must be >= {minimum}, got {text}")
    return value


def cash(text: str) -> Decimal:
    value = decimal(text, "cash")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"cash must be positive, got {text}")
    return value


def fraction(text: str) -> Decimal:
    value = decimal(text, "fraction")
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"fraction must be in (0, 1], got {text}")
    return value


def bps(text: str) -> Decimal:
    return decimal(text, "basis points", Decimal(0))


def offset_bps(text: str) -> Decimal:
    return decimal(text, "limit offset")


def commission(text: str) -> PerShareCommission:
    parts = text.split(",")
    if len(parts) > 2:
        raise argparse.ArgumentTypeError(f"commission is PER_SHARE or PER_SHARE,MINIMUM, got {text!r}")
    per_share = decimal(parts[0], "commission per share", Decimal(0))
    minimum = decimal(parts[1], "commission minimum", Decimal(0)) if len(parts) == 2 else Decimal(0)
    return PerShareCommission(per_share, minimum)


def iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def param(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"parameter must be NAME=VALUE, got {text!r}")
    return key.strip(), value.strip()


def sessions(text: str) -> int | None:
    if text.lower() == "none":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of sessions or 'none', got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def participation(text: str) -> float | None:
    """A fraction of a bar's volume in (0, 1], or ``none`` (fills ignore volume)."""
    if text.strip().lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a fraction: {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1] or none, got {text}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_strategy_overrides(parser: argparse.ArgumentParser) -> None:
    """``--param`` and ``--allow-short``: the strategy overrides every command that trades takes."""
    parser.add_argument(
        "--param",
        action="append",
        type=param,
        default=[],
        metavar="NAME=VALUE",
        help="override a strategy parameter: NAME=VALUE for every strategy that has it, INSTANCE.NAME=VALUE for one",
    )
    parser.add_argument("--allow-short", action="store_true", help="let the strategies go short")
    parser.add_argument(
        "--session",
        choices=SESSIONS,
        help="the minute bars every strategy sees: the regular session, or pre/post-market too"
        " (default: each instance's [[strategies]] session, else regular)",
    )
