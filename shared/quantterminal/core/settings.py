"""The settings a configuration file declares, as the core's typed objects: one class per section
of the file, under the file's own names, each default declared once -- here or in the class a
section maps to.

| section        | class                                   | read by                                 |
|----------------|-----------------------------------------|-----------------------------------------|
| ``account``    | ``DEFAULT_ACCOUNT``                      | every environment (ledger, state keys)  |
| ``[orders]``   | ``core.trading.config.TradingConfig``    | the kernel: sizing, order type, ages    |
| ``[risk]``     | ``core.risk.manager.RiskLimits``         | the risk manager, in every environment  |
| ``[broker]``   | ``BrokerSettings``                       | where orders go; the simulated broker   |
| ``[data]``     | ``DataSettings``                         | symbols, backtest data, replay, feed    |

The configuration model (``quantterminal.config.model``) validates a file against these and takes
every default from them; the shipped ``default.toml`` states the same values (a test holds them
equal), and ``qterm config show`` prints them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from quantterminal.core.money import ZERO
from quantterminal.core.risk.manager import RiskLimits
from quantterminal.core.simulation.execution import BpsSlippage, PerShareCommission
from quantterminal.core.simulation.fill_model import FillModel
from quantterminal.core.trading.config import TradingConfig

DEFAULT_ACCOUNT = "paper"
BROKER_KINDS = ("simulated", "alpaca-paper", "alpaca-live")
FEEDS = ("alpaca", "polygon")
_MODES = {"alpaca-paper": "paper", "alpaca-live": "live"}


@dataclass(frozen=True)
class BrokerSettings:
    """``[broker]``: where orders go, and how the simulated broker (backtest, local paper) fills them.

    - ``kind``: ``simulated``, ``alpaca-paper`` or ``alpaca-live`` (keys from the environment or
      Secrets Manager, never from the file).
    - ``cash``: the simulated account's starting cash, and a backtest's.
    - ``slippage_bps``: simulated market orders fill this much worse than the bar's open.
    - ``commission_per_share``, ``commission_minimum``: per fill, at least the minimum.
    - ``participation``: at most this fraction of a bar's volume fills a simulated order
      (``None``: all of it).
    """

    kind: str = "simulated"
    cash: Decimal = Decimal(100_000)
    slippage_bps: Decimal = ZERO
    commission_per_share: Decimal = ZERO
    commission_minimum: Decimal = ZERO
    participation: Decimal | None = Decimal("0.10")

    def __post_init__(self) -> None:
        if self.kind not in BROKER_KINDS:
            raise ValueError(f"broker kind {self.kind!r}: use one of {', '.join(BROKER_KINDS)}")
        if not self.cash.is_finite() or self.cash <= 0:
            raise ValueError(f"cash must be positive, got {self.cash}")

    @property
    def live(self) -> bool:
        """Whether orders go to a live (real money) account."""
        return self.kind == "alpaca-live"

    @property
    def trading_mode(self) -> str:
        """``simulated``, ``paper`` or ``live``: what the summaries, the API and the dashboard show."""
        return _MODES.get(self.kind, "simulated")

    def fill_model(self) -> FillModel:
        """The simulated broker's fill model these settings declare."""
        participation = None if self.participation is None else float(self.participation)
        commission = PerShareCommission(self.commission_per_share, self.commission_minimum)
        return FillModel(BpsSlippage(self.slippage_bps), commission, participation)


@dataclass(frozen=True)
class DataSettings:
    """``[data]``: the symbols traded and where bars come from.

    - ``symbols``: what the account trades (and the feed subscribes to).
    - ``backtest``: a CSV file or folder, ``sample:NAME`` or a ledger URL for ``qterm backtest``.
    - ``replay``: what ``qterm paper`` replays when no live stream is named.
    - ``feed``: the market data stream, ``alpaca`` or ``polygon``.
    """

    symbols: tuple[str, ...] = ("SPY", "IBM", "BAC")
    backtest: str = "sample:lean_2013"
    replay: str = "sample:lean_2013"
    feed: str = "alpaca"


SECTIONS: dict[str, type[Any]] = {
    "orders": TradingConfig,
    "risk": RiskLimits,
    "broker": BrokerSettings,
    "data": DataSettings,
}


def default_of(section: type[Any], name: str) -> Any:
    """The one declared default of setting ``name`` in ``section`` (a settings dataclass).

    >>> default_of(RiskLimits, "drawdown")
    Decimal('0.15')
    """
    found = next((f for f in dataclasses.fields(section) if f.name == name), None)
    if found is None:
        raise KeyError(f"{section.__name__} has no setting {name!r}")
    if found.default is not dataclasses.MISSING:
        return found.default
    if found.default_factory is not dataclasses.MISSING:
        return found.default_factory()
    raise KeyError(f"{section.__name__}.{name} has no default")
