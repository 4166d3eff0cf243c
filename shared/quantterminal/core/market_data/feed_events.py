"""What a market data feed produces once a provider's messages are normalised.

Trades and quotes are the core's ``Trade`` and ``Quote``. Bars travel as ``BarUpdate`` so that the
pipeline knows where each came from: built here from trades, sent by the provider, a provider's
later revision of a minute, or fetched to fill a gap (backfill).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from quantterminal.core.models import Bar, Quote, Trade


class BarSource(enum.Enum):
    """Where a bar came from."""

    BUILT = "built"  # aggregated here from trades
    PROVIDER = "provider"  # the provider's own minute bar
    REVISION = "revision"  # the provider re-sent a minute with new values (Alpaca updatedBars)
    BACKFILL = "backfill"  # fetched from the historical API to fill a gap
    DAILY = "daily"  # the provider's daily bar (not a minute)
    LATE = "late"  # a minute that came after later ones of its symbol: stored, never traded


class BarUpdate(NamedTuple):
    """A bar and its provenance (a named tuple: one is made for every bar, so it must be cheap)."""

    bar: Bar
    source: BarSource


@dataclass(frozen=True, slots=True)
class TradeCancel:
    """The provider withdrew (or marked as an error) a trade it had reported."""

    symbol: str
    trade_id: str
    exchange: str
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class TradeCorrection:
    """The provider replaced a reported trade with corrected values."""

    symbol: str
    original_trade_id: str
    corrected: Trade


@dataclass(frozen=True, slots=True)
class TradingStatus:
    """The listing exchange halted trading in a symbol (a regulatory halt, a LULD volatility pause)
    or let it resume. While a symbol is halted no new order is sent for it."""

    symbol: str
    halted: bool
    timestamp: datetime
    code: str = ""  # the provider's status code (Alpaca ``sc``, Polygon's LULD indicator)
    reason: str = ""


SESSION_STARTED = "session"  # the Control kind a connection passes on when a session begins


@dataclass(frozen=True, slots=True)
class Control:
    """A connection-level message: connected, authenticated, auth_failed, subscribed,
    connection_limit, error, status (e.g. a trading halt), or session (a session began: logged
    in and subscribed, after a connect or a reconnect)."""

    kind: str
    message: str = ""
    code: int | None = None


FeedEvent = Trade | Quote | BarUpdate | TradeCancel | TradeCorrection | TradingStatus | Control


@dataclass(frozen=True, slots=True)
class Malformed:
    """A message that could not be used, with why and a sample of it (for one log line)."""

    reason: str
    sample: str


@dataclass(frozen=True, slots=True)
class ParsedFrame:
    """Everything one websocket text frame contained; malformed messages never stop the rest."""

    events: tuple[FeedEvent, ...]
    malformed: tuple[Malformed, ...] = ()
