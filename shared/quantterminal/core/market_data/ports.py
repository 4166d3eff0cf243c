"""The ports market data needs from the outside: bars of record (``MarketHistory``, the ledger's
market-data role) and a provider's historical bars (``HistoricalBars``). Adapters implement them;
their contract tests (``tests/contract``) specify them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from quantterminal.core.models import Bar, Trade


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What a bulk ingest did: rows new to the ledger, rows that revised a stored one, rows that
    were already stored exactly as given."""

    inserted: int = 0
    revised: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.inserted + self.revised + self.unchanged


class MarketHistory(Protocol):
    """Bars and ticks of record: what the feed and backfill write, what backtests and warm-ups read.

    Writes are idempotent (natural keys), so they may be retried or redelivered."""

    def ingest_bars(self, bars: Sequence[Bar]) -> IngestReport:
        """Store bars keyed by (symbol, start time); a changed bar replaces the stored one and
        bumps its revision, an identical one changes nothing. All or nothing."""
        ...

    def ingest_ticks(self, trades: Sequence[Trade]) -> IngestReport:
        """Store trades keyed by (symbol, time, exchange, trade id); a known trade is unchanged."""
        ...

    def bar_revision(self, symbol: str, start: datetime) -> int | None:
        """How often the stored bar was revised (0 = never), or ``None`` if there is none."""
        ...

    def last_bars(self, symbol: str, n: int) -> list[Bar]:
        """The latest ``n`` bars of ``symbol``, oldest first."""
        ...

    def bars_between(
        self, start: datetime, end: datetime, symbols: Sequence[str] | None = None
    ) -> dict[str, list[Bar]]:
        """Bars with ``start <= time < end`` by symbol (all symbols when ``symbols`` is None)."""
        ...

    def last_ticks(self, symbol: str, n: int) -> list[Trade]:
        """The latest ``n`` trades of ``symbol``, oldest first."""
        ...

    def missing_minutes(self, symbol: str, start: datetime, end: datetime) -> list[datetime]:
        """Regular-session minutes in ``[start, end)`` with no stored bar (for backfill)."""
        ...


class HistoryUnavailable(Exception):  # noqa: N818 - a state of the provider, not a bug
    """The historical data API cannot answer now (down, throttled, unreachable)."""


class HistoricalBars(Protocol):
    """A provider's historical minute bars."""

    def minute_bars(self, symbol: str, start: datetime, end: datetime) -> list[Bar]:
        """Minute bars of ``symbol`` starting in ``[start, end)``, oldest first; raises
        ``HistoryUnavailable`` when the provider cannot answer now."""
        ...
