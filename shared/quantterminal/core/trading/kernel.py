"""The one builder of the trading kernel: ``build_kernel(spec, handlers)`` assembles the desk, one
engine per strategy instance and the account's risk gate from what the configuration says (the
``KernelSpec``, in the core's names) and what the environment plugs in (``KernelHandlers``).

The backtest, the local paper run, the Lambdas, optimize and the notebook all get their kernel
here -- nothing else constructs its parts (the architecture test holds every other module to it),
so a new handler (an alert sink, a clock) is added in one place and reaches every environment.

| handler      | backtest                        | paper run / Lambdas                          |
|--------------|---------------------------------|----------------------------------------------|
| ``store``    | plain objects in the process    | in-process documents or Redis                |
| ``broker``   | the simulated broker            | the simulated broker or Alpaca               |
| ``journal``  | none                            | the ledger (SQLite or PostgreSQL)            |
| ``strategies`` | resident objects              | snapshots in the store (the default)         |
| ``history``  | none                            | the ledger: warms up a retuned strategy      |
| ``alert``    | none                            | what the environment does with a risk alert  |
| ``interval`` | the data's bar size             | one minute                                   |
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from quantterminal.core.accounting.ports import StateStore
from quantterminal.core.market_data.ports import MarketHistory
from quantterminal.core.risk.gate import RiskGate
from quantterminal.core.strategies import StrategyInstance, share_capital
from quantterminal.core.trading.answers import ledger_warmup
from quantterminal.core.trading.config import TradingConfig
from quantterminal.core.trading.desk import TradingDesk, account_view
from quantterminal.core.trading.engine import TradingEngine
from quantterminal.core.trading.ports import Broker, TradeJournal
from quantterminal.core.trading.strategy_hosts import SnapshotStrategies, StrategyHost

MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class KernelSpec:
    """One account's kernel as the configuration declares it: its name, its strategy instances
    (those without an allocation share what the others leave) and how it trades."""

    account: str
    instances: Sequence[StrategyInstance]
    trading: TradingConfig


@dataclass(frozen=True)
class KernelHandlers:
    """What an environment plugs into the kernel (see the module docs for each environment's)."""

    store: StateStore
    broker: Broker
    journal: TradeJournal | None = None
    strategies: StrategyHost | None = None  # None: snapshots in ``store``
    history: MarketHistory | None = None  # bars to warm a retuned strategy up on
    alert: Callable[[str], None] | None = None  # a risk alert (halt, breaker) as it happens
    interval: timedelta = MINUTE


def build_kernel(spec: KernelSpec, handlers: KernelHandlers) -> TradingDesk:
    """The kernel of ``spec`` with ``handlers`` plugged in: the desk, an engine per instance, and
    the one risk gate they share. Raises ``StrategyError`` for duplicate names or allocations
    over the whole account."""
    instances = share_capital(spec.instances)
    store, broker, journal = handlers.store, handlers.broker, handlers.journal
    gate = RiskGate(store, spec.account, spec.trading.risk, journal, handlers.alert)
    engines = {
        i.name: TradingEngine(i, spec.account, store, broker, gate, journal, config=spec.trading) for i in instances
    }
    host = handlers.strategies
    if host is None:
        host = SnapshotStrategies(store, None if handlers.history is None else ledger_warmup(handlers.history))
    view = partial(account_view, broker)  # the account at decision time, as the broker reports it
    return TradingDesk(engines, store, spec.account, view, spec.trading.max_bar_age, journal, host, handlers.interval)
