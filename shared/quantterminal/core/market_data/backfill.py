"""Repair the ledger's history: find regular-session minutes with no stored bar and fetch them from
the provider's historical bars (the scheduled backfill job, before the open and on demand).

A minute the provider has no bar for either (no trade printed on that feed) stays missing and is
reported as such; a provider that cannot answer is reported per symbol and the others go on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from quantterminal.core.market_data.calendar import session_bounds
from quantterminal.core.market_data.ports import HistoricalBars, HistoryUnavailable, MarketHistory
from quantterminal.core.market_data.sessions import session_date

MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class SymbolBackfill:
    """What the backfill did for one symbol."""

    symbol: str
    missing: int
    filled: int
    still_missing: int
    error: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "symbol": self.symbol,
            "missing": self.missing,
            "filled": self.filled,
            "still_missing": self.still_missing,
            "error": self.error,
        }


def last_sessions(now: datetime, sessions: int) -> tuple[datetime, datetime]:
    """The window ``[start, end)`` covering the last ``sessions`` complete or running trading
    sessions up to ``now`` (weekends and holidays skipped)."""
    day = session_date(now)
    found: list[tuple[datetime, datetime]] = []
    while len(found) < sessions:
        bounds = session_bounds(day)
        if bounds is not None and bounds[0] < now:
            found.append(bounds)
        day -= timedelta(days=1)
    return found[-1][0], min(found[0][1], now)


def backfill(
    ledger: MarketHistory, history: HistoricalBars, symbols: Sequence[str], start: datetime, end: datetime
) -> list[SymbolBackfill]:
    """Fill every symbol's missing minutes in ``[start, end)`` from ``history``."""
    results = []
    for symbol in symbols:
        missing = ledger.missing_minutes(symbol, start, end)
        if not missing:
            results.append(SymbolBackfill(symbol, 0, 0, 0))
            continue
        wanted = set(missing)
        try:
            bars = [b for b in history.minute_bars(symbol, missing[0], missing[-1] + MINUTE) if b.timestamp in wanted]
        except HistoryUnavailable as exc:
            results.append(SymbolBackfill(symbol, len(missing), 0, len(missing), str(exc)))
            continue
        if bars:
            ledger.ingest_bars(bars)
        results.append(SymbolBackfill(symbol, len(missing), len(bars), len(missing) - len(bars)))
    return results
