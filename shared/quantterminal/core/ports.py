"""Every port of the core in one place, for the outer layers (adapters, wiring, tests): the small
interfaces the core needs from the outside world, each kept beside the capability it serves --

- ``market_data.ports``: ``MarketHistory`` (bars of record), ``HistoricalBars`` (a provider's);
- ``accounting.ports``: ``StateStore`` (hot state shared by processes: Redis, memory);
- ``risk.ports``: ``RiskJournal`` (where risk events are kept);
- ``trading.ports``: ``Broker`` (Alpaca, simulated), ``TradeJournal`` (what the kernel writes);
- ``simulation.ports``: ``SimulatedVenue`` (the backtest's broker);
- ``reporting.ports``: ``TradeHistory``, ``Quarantine`` and ``Ledger`` (every role in one store).

Core modules import a port from its capability's module, never from here (this module imports
every folder; the architecture test holds the core to it). Adapters pass the contract tests in
``tests/contract``.
"""

from __future__ import annotations

from quantterminal.core.accounting.ports import StateStore
from quantterminal.core.market_data.ports import HistoricalBars, HistoryUnavailable, IngestReport, MarketHistory
from quantterminal.core.reporting.ports import Ledger, Quarantine, TradeHistory
from quantterminal.core.risk.ports import RiskJournal
from quantterminal.core.simulation.ports import SimulatedVenue
from quantterminal.core.trading.ports import Broker, TradeJournal

__all__ = [
    "Broker",
    "HistoricalBars",
    "HistoryUnavailable",
    "IngestReport",
    "Ledger",
    "MarketHistory",
    "Quarantine",
    "RiskJournal",
    "SimulatedVenue",
    "StateStore",
    "TradeHistory",
    "TradeJournal",
]
