"""Strategy instances: one strategy class running under its own name, with its own parameters,
symbols and share of the account's capital.

An instance's name is what the ledger, the state store and the broker's client order ids know it
by, so two instances of one class (a fast and a slow momentum) keep separate positions, orders
and snapshots. The per-symbol position limit stays account-wide: it adds up every instance.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from quantterminal.core.market_data.calendar import EXTENDED, SESSIONS
from quantterminal.core.market_data.timeframes import ONE_MINUTE, TimeframeError, parse_timeframe
from quantterminal.core.strategies.base import Strategy, StrategyError, StrategyParams, parse_params
from quantterminal.core.strategies.exit_orders import ExitOrders

NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")  # safe in client order ids, keys and file names
ONE = Decimal(1)


@dataclass(frozen=True)
class StrategyInstance:
    """A strategy class under an instance name, with parameters, symbols, a capital allocation
    (the fraction of account equity its positions are sized from; ``None`` until shared out), the
    bar size it decides on and the session whose minute bars it sees (``SessionRule``)."""

    name: str
    strategy: type[Strategy]
    params: StrategyParams
    symbols: frozenset[str] | None = None  # None: every symbol the account trades
    allocation: Decimal | None = None
    spec: str = ""  # how the strategy was named: a built-in, a file, a module or an entry point
    timeframe: str = "1min"  # the bar size the strategy decides on (built from minute bars)
    session: str = "regular"  # the minute bars it sees: "regular" or "extended" (pre/post-market too)

    def __post_init__(self) -> None:
        try:
            canonical = parse_timeframe(self.timeframe)
        except TimeframeError as exc:
            raise StrategyError(f"{self.name}: {exc}") from None
        object.__setattr__(self, "timeframe", canonical)
        if self.session not in SESSIONS:
            raise StrategyError(f"{self.name}: session {self.session!r}: use {' or '.join(SESSIONS)}")
        if self.session == EXTENDED and canonical != ONE_MINUTE:
            raise StrategyError(
                f"{self.name}: extended hours are for 1-minute strategies; {canonical} bars are built from the"
                " regular session"
            )
        if not NAME.match(self.name):
            raise StrategyError(
                f"strategy instance name {self.name!r}: use lowercase letters, digits and _ (at most 40, letter first)"
            )
        if not isinstance(self.params, self.strategy.params_type):
            raise StrategyError(f"{self.name}: {self.strategy.__name__} needs {self.strategy.params_type.__name__}")
        self.params.validate()
        try:
            self.exit_orders()  # a strategy's exits are checked with its parameters, before it trades
        except ValueError as exc:
            raise StrategyError(f"{self.name}: {exc}") from None
        if self.allocation is not None and (not self.allocation.is_finite() or not 0 < self.allocation <= 1):
            raise StrategyError(f"{self.name}: allocation must be in (0, 1], got {self.allocation}")

    def exit_orders(self) -> ExitOrders | None:
        """The exits this instance's strategy declares under its parameters (``None``: the
        configuration's ``[orders]``)."""
        return self.strategy.exit_orders(self.params)

    @classmethod
    def of(
        cls,
        strategy: type[Strategy],
        name: str | None = None,
        params: Mapping[str, Any] | None = None,
        symbols: Iterable[str] | None = None,
        allocation: Decimal | None = None,
        spec: str = "",
        timeframe: str | None = None,
        session: str | None = None,
    ) -> StrategyInstance:
        """An instance of ``strategy`` (named after it by default) with ``params`` over its defaults,
        deciding on ``timeframe`` bars and seeing ``session``'s minute bars (defaults: what the
        strategy class declares)."""
        return cls(
            name or strategy.name,
            strategy,
            parse_params(strategy.params_type, params or {}),
            None if symbols is None else frozenset(s.upper() for s in symbols),
            allocation,
            spec or strategy.name,
            timeframe or strategy.timeframe,
            session or strategy.session,
        )

    def trades(self, symbol: str) -> bool:
        return self.symbols is None or symbol in self.symbols

    def new(self, symbol: str) -> Strategy:
        """A fresh strategy object for ``symbol``."""
        return self.strategy(symbol, self.params)

    def restore(self, snapshot: Mapping[str, Any]) -> Strategy:
        """The strategy object ``snapshot`` was taken from (its class is this instance's), under
        this instance's parameters: ``ParamsChanged`` if the snapshot was taken under others."""
        return self.strategy.restore(snapshot, self.params)

    def matches(self, snapshot: Mapping[str, Any]) -> bool:
        """Whether ``snapshot``'s state was computed by this instance's strategy under its
        parameters (a snapshot of another strategy or version -- the instance was given another
        class -- does not match either)."""
        try:
            return self.strategy.snapshot_params(snapshot) == self.params
        except StrategyError:
            return False

    @property
    def warmup_bars(self) -> int:
        """Bars of its timeframe a rebuilt strategy is fed before it trades (``Strategy.warmup_bars``)."""
        return self.strategy.warmup_bars(self.params)

    @property
    def uses_trade(self) -> bool:
        """Whether the strategy reads its trade (``Strategy.uses_trade``): the kernel then reads
        its position and working orders before every bar it decides on."""
        return self.strategy.uses_trade

    @property
    def capital_share(self) -> Decimal:
        return ONE if self.allocation is None else self.allocation


def share_capital(instances: Iterable[StrategyInstance]) -> tuple[StrategyInstance, ...]:
    """Instances with every allocation set: those without one share what the others leave, equally.
    Refuses duplicate names and allocations that add up to more than the whole account."""
    listed = tuple(instances)
    if not listed:
        raise StrategyError("no strategy to run")
    names = [i.name for i in listed]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise StrategyError(f"strategy instance names must be unique: {', '.join(twice)} named twice")
    given = sum((i.allocation for i in listed if i.allocation is not None), Decimal(0))
    if given > ONE:
        raise StrategyError(f"allocations add up to {given}, more than the whole account (1)")
    open_ = [i for i in listed if i.allocation is None]
    if open_ and given >= ONE:
        raise StrategyError(f"allocations use the whole account; nothing left for {', '.join(i.name for i in open_)}")
    share = (ONE - given) / len(open_) if open_ else ONE
    return tuple(i if i.allocation is not None else replace(i, allocation=share) for i in listed)
