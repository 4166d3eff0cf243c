"""The configuration file's typed model: what a user declares once for every environment.

One TOML file (``quantterminal.toml``; the shipped defaults are ``default.toml`` beside this
module) declares the strategy instances (name, strategy spec, parameters, symbols, capital
allocation), the order settings, the risk limits, the broker and the data. ``qterm backtest``,
``paper``, ``divergence``, ``feed``, the Lambdas and the CDK app read the same file; command line
flags override it; secrets never live in it (environment or Secrets Manager only).

Validation is pydantic's (extra keys are refused, so a typo is an error, not a silent default);
``load`` turns its errors into one line naming the file and the key.
"""

from __future__ import annotations

import math
from collections import Counter
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from quantterminal.core.accounting.orders import OrderType
from quantterminal.core.market_data.timeframes import parse_timeframe
from quantterminal.core.research.space import Range
from quantterminal.core.risk.manager import RiskLimits
from quantterminal.core.settings import DEFAULT_ACCOUNT, BrokerSettings, DataSettings, default_of
from quantterminal.core.simulation.fill_model import FillModel
from quantterminal.core.trading.config import TradingConfig

Fraction = Annotated[Decimal, Field(gt=0, le=1)]
NonNegative = Annotated[Decimal, Field(ge=0)]
ParamValue = bool | int | float | str
# Bounds every value a file can hold, so a file config check accepts is one that runs: seconds
# within a day (orders are day orders), money within a trillion, parameters of a sane size.
DAY_SECONDS = 86_400
MAX_MONEY = Decimal(10) ** 12
MAX_INT_PARAM = 10_000_000  # a window of ten million bars: decades of minutes
MAX_FLOAT_PARAM = 1e12
Symbol = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9.\-]{0,9}$")]


class Section(BaseModel):
    """Every section refuses keys it does not know, and infinities or NaN in numbers."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class StrategySection(Section):
    """One strategy instance: ``[[strategies]]``."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$", description="the instance's name (positions, orders)")
    strategy: str = Field(min_length=1, description="built-in name, path.py:Class, module:Class or entry point")
    params: dict[str, ParamValue] = Field(default_factory=dict)
    symbols: list[Symbol] | None = None  # None: every symbol in [data].symbols
    allocation: Fraction | None = None  # of account equity; unset instances share what is left
    timeframe: str | None = Field(
        default=None,
        description="bar size it decides on: 1min, 5min, 15min, 30min, 60min or 1day (default: the class's)",
    )
    session: Literal["regular", "extended"] | None = Field(
        default=None,
        description="minute bars it sees: the regular session, or pre/post-market too (default: the class's)",
    )

    @field_validator("timeframe")
    @classmethod
    def _timeframe(cls, value: str | None) -> str | None:
        return None if value is None else parse_timeframe(value)

    @field_validator("symbols")
    @classmethod
    def _upper(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [s.upper() for s in value]

    @field_validator("params")
    @classmethod
    def _bounded(cls, value: dict[str, ParamValue]) -> dict[str, ParamValue]:
        for key, v in value.items():
            if isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_INT_PARAM:
                raise ValueError(f"{key} = {v}: whole-number parameters are at most {MAX_INT_PARAM:,} in size")
            if isinstance(v, float) and not (math.isfinite(v) and abs(v) <= MAX_FLOAT_PARAM):
                raise ValueError(f"{key} = {v}: a parameter must be a finite number within ±{MAX_FLOAT_PARAM:g}")
            if isinstance(v, str) and len(v) > 1_000:
                raise ValueError(f"{key}: a text parameter is at most 1,000 characters")
        return value


_ORDERS, _RISK, _BROKER, _DATA = TradingConfig, RiskLimits, BrokerSettings, DataSettings


class OrdersSection(Section):
    """``[orders]``: how the kernel sizes and places orders (``core.trading.config.TradingConfig``,
    whose names and defaults these are)."""

    type: Literal["limit", "market"] = default_of(_ORDERS, "type").value
    limit_offset_bps: Decimal = Field(default=default_of(_ORDERS, "limit_offset_bps"), ge=-1000, le=1000)
    cancel_after_seconds: float = Field(default=default_of(_ORDERS, "cancel_after_seconds"), gt=0, le=DAY_SECONDS)
    position_fraction: Fraction = default_of(_ORDERS, "position_fraction")
    max_bar_age_seconds: float = Field(default=default_of(_ORDERS, "max_bar_age_seconds"), ge=0, le=DAY_SECONDS)
    stop_loss_bps: Decimal | None = Field(default=None, gt=0, lt=10_000)
    take_profit_bps: Decimal | None = Field(default=None, gt=0, lt=10_000)
    trailing_stop_bps: Decimal | None = Field(default=None, gt=0, lt=10_000)
    max_holding_minutes: int | None = Field(default=None, gt=0, le=525_600)

    @model_validator(mode="after")
    def _target_beyond_the_entry(self) -> OrdersSection:
        offset = self.limit_offset_bps if self.type == "limit" else Decimal(0)
        if self.take_profit_bps is not None and self.take_profit_bps <= offset:
            raise ValueError(
                f"take_profit_bps must exceed limit_offset_bps ({offset}): it would sit inside the entry's limit"
            )
        if self.trailing_stop_bps is not None and (self.take_profit_bps or self.stop_loss_bps) is not None:
            raise ValueError(
                "trailing_stop_bps cannot be combined with stop_loss_bps / take_profit_bps: a broker holds one"
                " closing order per share"
            )
        return self


class RiskSection(Section):
    """``[risk]``: limits checked for every order in every environment, account-wide
    (``core.risk.manager.RiskLimits``, whose names and defaults these are)."""

    position_limit: Fraction = default_of(_RISK, "position_limit")
    max_order_notional: Decimal = Field(default=default_of(_RISK, "max_order_notional"), gt=0, le=MAX_MONEY)
    price_band_bps: Decimal = Field(default=default_of(_RISK, "price_band_bps"), gt=0, le=10_000)
    daily_loss: Fraction = default_of(_RISK, "daily_loss")
    drawdown: Fraction = default_of(_RISK, "drawdown")
    regular_hours_only: bool = default_of(_RISK, "regular_hours_only")
    allowed_symbols: list[Symbol] | None = default_of(_RISK, "allowed_symbols")


class BrokerSection(Section):
    """``[broker]``: where orders go (``core.settings.BrokerSettings``, whose names and defaults
    these are). Alpaca keys come from the environment or Secrets Manager."""

    kind: Literal["simulated", "alpaca-paper", "alpaca-live"] = default_of(_BROKER, "kind")
    cash: Decimal = Field(default=default_of(_BROKER, "cash"), gt=0, le=MAX_MONEY)
    slippage_bps: NonNegative = Field(default=default_of(_BROKER, "slippage_bps"), le=10_000)
    commission_per_share: NonNegative = Field(default=default_of(_BROKER, "commission_per_share"), le=1_000)
    commission_minimum: NonNegative = Field(default=default_of(_BROKER, "commission_minimum"), le=1_000_000)
    participation: Fraction | Literal["none"] = (
        "none" if default_of(_BROKER, "participation") is None else default_of(_BROKER, "participation")
    )


class DataSection(Section):
    """``[data]``: the symbols traded and where bars come from (``core.settings.DataSettings``,
    whose names and defaults these are)."""

    symbols: list[Symbol] = Field(default_factory=lambda: list(default_of(_DATA, "symbols")), min_length=1)
    backtest: str = default_of(_DATA, "backtest")  # CSV file or folder, sample:NAME, or a ledger URL
    replay: str = default_of(_DATA, "replay")  # what ``qterm paper`` replays
    feed: Literal["alpaca", "polygon"] = default_of(_DATA, "feed")

    @field_validator("symbols")
    @classmethod
    def _upper(cls, value: list[str]) -> list[str]:
        return [s.upper() for s in value]


class ParamRange(Section):
    """One parameter's search space: a range (``low``..``high``, optional ``step``, ``log`` scale)
    or ``choices``."""

    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: list[ParamValue] | None = None

    @model_validator(mode="after")
    def _shape(self) -> ParamRange:
        if self.choices is not None:
            if self.low is not None or self.high is not None or not self.choices:
                raise ValueError("give either choices (a non-empty list) or low and high, not both")
            return self
        if self.low is None or self.high is None or self.low > self.high:
            raise ValueError("a range needs low <= high (or give choices)")
        if self.log and self.low <= 0:
            raise ValueError("a log-scale range needs low > 0")
        if self.step is not None and (self.step <= 0 or self.log):
            raise ValueError("step must be positive, and cannot be combined with log")
        return self

    def to_range(self) -> Range:
        """The search engine's form of it."""
        choices = None if self.choices is None else tuple(self.choices)
        return Range(self.low, self.high, self.step, self.log, choices)


class WalkForwardSection(Section):
    """``[optimize.walk_forward]``: in-sample/out-of-sample windows, in trading sessions."""

    in_sample: int = Field(default=10, ge=1)  # sessions searched on
    out_of_sample: int = Field(default=5, ge=1)  # sessions the best parameters are then judged on
    anchored: bool = False  # in-sample grows from the first session instead of rolling
    windows: int | None = Field(default=None, ge=1)  # at most this many (the latest); None: all that fit


class OptimizeSection(Section):
    """``[optimize]``: a parameter search for one strategy instance (``qterm optimize``)."""

    strategy: str  # the instance searched
    objective: Literal["sharpe", "sortino", "calmar", "profit_factor", "total_return"] = "sharpe"
    min_trades: int = Field(default=5, ge=0)  # fewer round trips in-sample: the trial does not count
    sampler: Literal["tpe", "random", "grid"] = "tpe"
    trials: int = Field(default=50, ge=1)  # per walk-forward window
    seed: int | None = None
    space: dict[str, ParamRange] = Field(min_length=1)
    walk_forward: WalkForwardSection = Field(default_factory=WalkForwardSection)


class Config(Section):
    """The whole file."""

    account: str = Field(default=DEFAULT_ACCOUNT, pattern=r"^[A-Za-z0-9_\-]{1,40}$")
    strategies: list[StrategySection] = Field(min_length=1)
    orders: OrdersSection = Field(default_factory=OrdersSection)
    risk: RiskSection = Field(default_factory=RiskSection)
    broker: BrokerSection = Field(default_factory=BrokerSection)
    data: DataSection = Field(default_factory=DataSection)
    optimize: OptimizeSection | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        names = [s.name for s in self.strategies]
        twice = sorted(n for n, count in Counter(names).items() if count > 1)  # linear: thousands of instances
        if twice:
            raise ValueError(f"strategy instance names must be unique: {', '.join(twice)} named twice")
        total = sum((s.allocation for s in self.strategies if s.allocation is not None), Decimal(0))
        if total > 1:
            raise ValueError(f"allocations add up to {total}, more than the whole account (1)")
        traded = set(self.data.symbols)
        for s in self.strategies:
            extra = sorted(set(s.symbols or ()) - traded)
            if extra:
                raise ValueError(f"strategy {s.name!r} names symbols not in [data].symbols: {', '.join(extra)}")
        if self.optimize is not None and self.optimize.strategy not in names:
            raise ValueError(
                f"optimize.strategy {self.optimize.strategy!r} is not a strategy instance ({', '.join(names)})"
            )
        return self

    @property
    def live(self) -> bool:
        """Whether orders go to a live (real money) account."""
        return self.broker_settings().live

    @property
    def trading_mode(self) -> str:
        """``simulated``, ``paper`` or ``live``: what the summaries, the API and the dashboard show."""
        return self.broker_settings().trading_mode

    def trading(self) -> TradingConfig:
        """The kernel's settings this file declares (``[orders]`` and ``[risk]``)."""
        r = self.risk.model_dump()
        allowed = r.pop("allowed_symbols")
        limits = RiskLimits(**r, allowed_symbols=None if allowed is None else frozenset(allowed))
        return TradingConfig(**{**self.orders.model_dump(), "type": OrderType(self.orders.type)}, risk=limits)

    def broker_settings(self) -> BrokerSettings:
        """``[broker]`` as the core's settings."""
        values = self.broker.model_dump()
        participation = values.pop("participation")
        return BrokerSettings(**values, participation=None if participation == "none" else Decimal(participation))

    def fills(self) -> FillModel:
        """The simulated broker's fill model this file declares."""
        return self.broker_settings().fill_model()
