"""The terminal the commands print to."""

from __future__ import annotations

from rich.console import Console


def wide_console() -> Console:
    """A console that does not squeeze the tables to 80 columns when the output is a file or pipe."""
    console = Console()
    return console if console.is_terminal else Console(width=140)
