"""The ``qterm`` commands: each one's name, the module that implements it, and its one-line help.

``qterm`` imports only the module of the command it runs (``qterm --help`` imports none): the
modules pull in the heavy parts -- alpaca-py, pandas, aiohttp, boto3 -- that one command needs and
the others do not. ``qterm`` makes each command's parser (help line from here, description from
the module's ``DESCRIPTION``); the module's ``register`` adds its options.
"""

from __future__ import annotations

from typing import NamedTuple


class Command(NamedTuple):
    """Where a command lives and what it is for."""

    module: str
    help: str


COMMANDS: dict[str, Command] = {
    "backtest": Command("quantterminal.cli.backtest", "run strategies over historical bars"),
    "config": Command("quantterminal.cli.config", "check a configuration file, or show the configuration in force"),
    "data": Command("quantterminal.cli.data", "download historical bars (Alpaca, Polygon) into Parquet or the ledger"),
    "db": Command("quantterminal.cli.db", "create and maintain the ledger"),
    "divergence": Command(
        "quantterminal.cli.divergence", "compare a paper or live run with the backtest of the same bars"
    ),
    "feed": Command(
        "quantterminal.cli.feed",
        "run the market data feed: websocket -> minute bars -> ledger (replays real data by default)",
    ),
    "new-strategy": Command(
        "quantterminal.cli.new_strategy", "write a commented strategy template and its test file, ready to run"
    ),
    "optimize": Command(
        "quantterminal.cli.optimize", "walk-forward parameter search with Optuna (workers share one study)"
    ),
    "report": Command(
        "quantterminal.cli.report", "a self-contained HTML tearsheet of a backtest folder or a ledger run"
    ),
    "paper": Command(
        "quantterminal.cli.paper", "paper trade on one machine: replayed real data, simulated broker, API and dashboard"
    ),
    "reconcile": Command(
        "quantterminal.cli.reconcile", "compare local orders and positions with the broker's and adopt the broker's"
    ),
    "failed-batches": Command(
        "quantterminal.cli.redrive", "re-read (and re-run) the Kinesis batches in the pipeline's failure queue"
    ),
    "replay-server": Command(
        "quantterminal.cli.replay",
        "serve real bars over a websocket on 127.0.0.1 (Alpaca stream protocol), with chaos options",
    ),
}
