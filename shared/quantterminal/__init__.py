"""QuantTerminal: one strategy codebase from backtest to live trading on AWS.

Layers point one way: entrypoints (``cli``, lambdas, ecs_feed, cdk) → ``adapters`` → ``core``.
``core`` is pure Python with no I/O.
"""

__version__ = "0.1.0"
