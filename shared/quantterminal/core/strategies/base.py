"""The Strategy contract: one closed bar in, the wanted direction (or nothing) out.

The same class runs in the backtester, the local paper pipeline and the Lambda bar handler.
One instance serves one symbol. Between Lambda invocations its whole state lives in Redis as
the plain dict ``snapshot()`` returns; ``Strategy.restore(snapshot, params)`` continues exactly
where the original left off, so a restored strategy makes the same decisions as one that never
stopped.

Parameters live in the configuration, state in snapshots: a snapshot records the parameters its
state was computed under only so that a change can be seen. Restoring it under other parameters
is refused (``ParamsChanged``): indicators of a 3-bar average cannot become those of a 5-bar one,
so the caller rebuilds the strategy with the configured parameters and warms it up again
(``core.trading.answers``).
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from quantterminal.core.models import Bar, Direction
from quantterminal.core.strategies.exit_orders import ExitOrders
from quantterminal.core.strategies.trade_view import FLAT, TradeView
from quantterminal.core.strategies.wanted import Wanted

SNAPSHOT_VERSION = 1


class StrategyError(ValueError):
    """Invalid strategy parameters or an unusable snapshot."""


class ParamsChanged(StrategyError):  # noqa: N818 - a state of the snapshot, not a bug
    """A snapshot taken under other parameters than the ones configured now."""


@dataclasses.dataclass(frozen=True)
class StrategyParams:
    """Base for each strategy's parameters; every strategy may go short if allowed to."""

    allow_short: bool = False

    def validate(self) -> None:
        """Raise ``StrategyError`` when the parameters make no sense."""


def parse_params(params_cls: type[StrategyParams], overrides: Mapping[str, Any]) -> StrategyParams:
    """Build ``params_cls`` from defaults plus ``overrides``; values may be strings from a CLI.

    >>> parse_params(StrategyParams, {"allow_short": "yes"})
    StrategyParams(allow_short=True)
    """
    fields = {f.name: f for f in dataclasses.fields(params_cls)}
    values: dict[str, Any] = {}
    for key, raw in overrides.items():
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise StrategyError(f"unknown parameter {key!r} (known: {known})")
        default = fields[key].default
        values[key] = _coerce(key, raw, type(default))
    params = params_cls(**values)
    params.validate()
    return params


def _coerce(key: str, raw: Any, kind: type) -> Any:
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise StrategyError(f"parameter {key!r} must be true or false, got {raw!r}")
    try:
        if kind is int:
            if isinstance(raw, float) and not raw.is_integer():
                raise ValueError
            return int(str(raw)) if isinstance(raw, str) else int(raw)
        if kind is float:
            return float(raw)
    except (TypeError, ValueError):
        raise StrategyError(f"parameter {key!r} must be {kind.__name__}, got {raw!r}") from None
    return raw


class Strategy(ABC):
    """A per-symbol, incremental trading strategy.

    Subclasses set ``name`` and ``params_type``, build their indicators in ``__init__``, decide in
    ``on_bar`` and list their mutable state in ``_state`` / ``_load_state``.
    """

    name: ClassVar[str]
    params_type: ClassVar[type[StrategyParams]]
    # The bar size ``on_bar`` decides on: 1min, 5min, 15min, 30min, 60min or 1day, built from minute
    # bars the same way everywhere (``core.market_data.timeframes``); a configuration may override it.
    timeframe: ClassVar[str] = "1min"
    # The minute bars ``on_bar`` sees: "regular" (the regular session, the default) or "extended"
    # (pre- and post-market too; 1-minute strategies only); a configuration may override it.
    session: ClassVar[str] = "regular"
    # Whether ``on_bar`` reads ``self.trade`` (its position, entry and working orders): the kernel
    # then reads them from its state before every bar this strategy decides on.
    uses_trade: ClassVar[bool] = False

    def __init__(self, symbol: str, params: StrategyParams | None = None) -> None:
        self.symbol = symbol
        self._trade = FLAT
        self.params = params if params is not None else self.params_type()
        if not isinstance(self.params, self.params_type):
            raise StrategyError(f"{self.name} needs {self.params_type.__name__}")
        self.params.validate()

    @abstractmethod
    def on_bar(self, bar: Bar) -> Direction | Wanted | None:
        """Consume one *closed* bar; return the direction wanted now (or ``Wanted``: the direction
        with the stop or limit order to reach it, ``core.strategies.wanted``), or ``None`` while
        warming up."""

    @property
    def trade(self) -> TradeView:
        """This instance's position and working orders in its symbol at the close of the bar being
        decided on, as the kernel booked them (``core.strategies.trade_view``); only for a strategy
        that declares ``uses_trade = True`` -- for any other the kernel does not read them."""
        if not self.uses_trade:
            raise StrategyError(f"{self.name}: set uses_trade = True to read self.trade")
        return self._trade

    def see(self, trade: TradeView) -> None:
        """Hand the strategy its trade before ``on_bar`` (the kernel's hosts do; so do tests).
        Not part of its state: the kernel's books are, and they are read again every bar."""
        self._trade = trade

    @abstractmethod
    def _state(self) -> dict[str, Any]:
        """Everything that changes as bars arrive, as JSON-serialisable data."""

    @abstractmethod
    def _load_state(self, state: dict[str, Any]) -> None:
        """Load what ``_state`` returned."""

    def snapshot(self) -> dict[str, Any]:
        """The strategy's full state as a plain, JSON-serialisable dict."""
        return {
            "version": SNAPSHOT_VERSION,
            "strategy": self.name,
            "symbol": self.symbol,
            "params": dataclasses.asdict(self.params),
            "state": self._state(),
        }

    @classmethod
    def warmup_bars(cls, params: StrategyParams) -> int:
        """How many bars (of its own timeframe) this strategy must see before its answers no longer
        depend on where its history began: what a rebuilt strategy is fed before it trades.

        The default is generous for moving averages, bands and channels: four times the largest
        whole-number parameter, at least 50. A strategy with longer memory (an exponential
        average, a regime filter) overrides it."""
        lengths = [v for v in dataclasses.asdict(params).values() if isinstance(v, int) and not isinstance(v, bool)]
        return max(50, 4 * max(lengths, default=0))

    @classmethod
    def exit_orders(cls, params: StrategyParams) -> ExitOrders | None:
        """The exits this strategy wants held at the broker under ``params`` (stop-loss and
        take-profit legs on every entry, or a trailing stop under every position: ``ExitOrders``),
        or ``None`` to trade with the configuration's ``[orders]``. The default is ``None``."""
        return None

    @classmethod
    def snapshot_params(cls, snapshot: Mapping[str, Any]) -> StrategyParams:
        """The parameters ``snapshot``'s state was computed under; refuses a snapshot of another
        kind or version."""
        if snapshot.get("version") != SNAPSHOT_VERSION:
            raise StrategyError(
                f"unsupported strategy snapshot version {snapshot.get('version')!r}"
                f" (this build reads version {SNAPSHOT_VERSION})"
            )
        if snapshot.get("strategy") != cls.name:
            raise StrategyError(f"snapshot is of strategy {snapshot.get('strategy')!r}, not {cls.name!r}")
        return parse_params(cls.params_type, snapshot["params"])

    @classmethod
    def restore(cls, snapshot: Mapping[str, Any], params: StrategyParams | None = None) -> Strategy:
        """Rebuild a strategy from ``snapshot()`` under ``params`` (default: those it was taken
        under). ``ParamsChanged`` if they differ: the state belongs to the old parameters."""
        taken = cls.snapshot_params(snapshot)
        if params is not None and params != taken:
            raise ParamsChanged(f"{cls.name} {snapshot['symbol']}: snapshot taken with {taken}, configured {params}")
        strategy = cls(snapshot["symbol"], taken)
        strategy._load_state(snapshot["state"])
        return strategy
