"""``qterm data download`` wired: symbols × months of bars from a provider into Parquet files or a
ledger, resuming where an earlier run stopped.

The work is cut into chunks of one symbol and one New York calendar month (so a month's
extended-hours evening stays in its month). A chunk is the unit of resumption:
- into Parquet, a chunk is one file (``SPY_1min_2024-01.parquet``) written atomically once all its
  pages are in; its metadata records the source, feed, adjustment and the range covered, so a run
  skips every chunk an earlier one finished (and a killed run loses at most the chunk it was in);
- into a ledger, pages are stored as they arrive (the ledger's ingest is idempotent), and a chunk
  resumes from the last bar already stored in it.
Ranges in the future are not asked for: a month that is not over yet is fetched up to now and
fetched again by the next run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Protocol

from quantterminal.adapters.aws.secrets import feed_keys
from quantterminal.adapters.market_data.bar_download import (
    ALPACA_URL,
    POLYGON_URL,
    AlpacaBars,
    BarPages,
    PacedHttp,
    PolygonBars,
)
from quantterminal.adapters.market_data.parquet_bars import parquet_metadata, write_parquet_bars
from quantterminal.core.market_data.sessions import NEW_YORK
from quantterminal.core.models import Bar
from quantterminal.core.ports import MarketHistory
from quantterminal.environment import Environment
from quantterminal.errors import DownloadError

SIP_DELAY = timedelta(minutes=15)


@dataclass(frozen=True)
class Chunk:
    """One symbol's bars over ``[start, end)``, inside one New York calendar month."""

    symbol: str
    month: str  # YYYY-MM
    start: datetime
    end: datetime


@dataclass
class DownloadReport:
    """What a download did."""

    chunks: int = 0
    skipped: int = 0  # finished by an earlier run
    rows: int = 0
    requests: int = 0
    seconds: float = 0.0
    waited: float = 0.0  # of the seconds, waiting for rate limits and retries
    files: list[Path] = field(default_factory=list)


class ChunkTarget(Protocol):
    """Where downloaded bars go, and what of it is there already."""

    def resume_from(self, chunk: Chunk) -> datetime | None:
        """Where ``chunk`` still needs bars from (``None``: it is complete)."""
        ...

    def store(self, chunk: Chunk, start: datetime, pages: Iterator[list[Bar]], on_page: Callable[[int], None]) -> None:
        """Take every page of ``chunk`` from ``start`` on."""
        ...


def midnight(day: date) -> datetime:
    return datetime.combine(day, clock_time(0), NEW_YORK).astimezone(UTC)


def plan(
    symbols: Sequence[str], first: date, last: date, now: datetime, source: str = "alpaca", feed: str = "iex"
) -> list[Chunk]:
    """Chunks for ``symbols`` from the start of ``first`` to the end of ``last`` (New York days),
    cut at month starts and at what the provider serves at ``now``: Alpaca serves SIP bars of the
    last 15 minutes only to paid plans (HTTP 403), so a SIP download stops short of them."""
    if source == "alpaca" and feed == "sip":
        now -= SIP_DELAY
    start, end = midnight(first), min(midnight(date.fromordinal(last.toordinal() + 1)), now)
    chunks = []
    month = date(first.year, first.month, 1)
    while midnight(month) < end:
        following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        lo, hi = max(start, midnight(month)), min(end, midnight(following))
        if lo < hi:
            chunks += [Chunk(s, f"{month:%Y-%m}", lo, hi) for s in symbols]
        month = following
    return sorted(chunks, key=lambda c: (c.symbol, c.start))


class ParquetFiles:
    """Chunks as Parquet files in ``folder``, one a symbol and month."""

    def __init__(self, folder: Path, timeframe: str, source: dict[str, str]) -> None:
        self.folder, self.timeframe, self.source = folder, timeframe, source
        self.written: list[Path] = []

    def path(self, chunk: Chunk) -> Path:
        return self.folder / f"{chunk.symbol}_{self.timeframe}_{chunk.month}.parquet"

    def resume_from(self, chunk: Chunk) -> datetime | None:
        done = parquet_metadata(self.path(chunk)) if self.path(chunk).exists() else None
        if (
            done is not None
            and all(done.get(k) == v for k, v in self.source.items())
            and done.get("timeframe") == self.timeframe
            and datetime.fromisoformat(done["start"]) <= chunk.start
            and datetime.fromisoformat(done["end"]) >= chunk.end
        ):
            return None
        return chunk.start

    def store(self, chunk: Chunk, start: datetime, pages: Iterator[list[Bar]], on_page: Callable[[int], None]) -> None:
        by_time: dict[datetime, Bar] = {}
        for page in pages:
            for bar in page:  # pages may overlap or come in any order: the month is kept sorted, once
                known = by_time.setdefault(bar.timestamp, bar)
                if known != bar:
                    raise DownloadError(
                        f"{chunk.symbol} {chunk.month}: the server sent two different bars for "
                        f"{bar.timestamp.isoformat()}; the month is not stored"
                    )
            on_page(len(page))
        bars = [by_time[t] for t in sorted(by_time)]
        covered = {"start": chunk.start.isoformat(), "end": chunk.end.isoformat()}
        write_parquet_bars(
            self.path(chunk),
            bars,
            {**self.source, "symbol": chunk.symbol, "timeframe": self.timeframe, **covered},
        )
        self.written.append(self.path(chunk))


class LedgerBars:
    """Chunks stored in a ledger's bars table, page by page (minute bars only)."""

    def __init__(self, ledger: MarketHistory) -> None:
        self.ledger = ledger

    def resume_from(self, chunk: Chunk) -> datetime | None:
        stored = self.ledger.bars_between(chunk.start, chunk.end, [chunk.symbol]).get(chunk.symbol)
        return stored[-1].timestamp if stored else chunk.start  # that bar again: it may have been revised

    def store(self, chunk: Chunk, start: datetime, pages: Iterator[list[Bar]], on_page: Callable[[int], None]) -> None:
        for page in pages:
            if page:
                self.ledger.ingest_bars(page)
            on_page(len(page))


def download(
    source: BarPages,
    target: ChunkTarget,
    chunks: Sequence[Chunk],
    timeframe: str,
    on_chunk: Callable[[Chunk, str], None] = lambda chunk, state: None,
    on_rows: Callable[[int], None] = lambda rows: None,
    on_done: Callable[[Chunk], None] = lambda chunk: None,
) -> DownloadReport:
    """Fetch every chunk ``target`` does not hold yet; ``on_chunk`` hears each chunk begin
    (``"fetching"``) or be skipped (``"done before"``), ``on_rows`` every page's row count and
    ``on_done`` every chunk fetched."""
    report = DownloadReport(chunks=len(chunks))
    started = time.perf_counter()

    def counted(rows: int) -> None:
        report.rows += rows
        on_rows(rows)

    for chunk in chunks:
        start = target.resume_from(chunk)
        if start is None:
            report.skipped += 1
            on_chunk(chunk, "done before")
            continue
        on_chunk(chunk, "fetching")
        target.store(chunk, start, source.pages(chunk.symbol, start, chunk.end, timeframe), counted)
        on_done(chunk)
    report.seconds = time.perf_counter() - started
    return report


@dataclass
class DownloadJob:
    """A provider and a target, ready to download (``close`` when done)."""

    source: BarPages
    target: ChunkTarget
    http: PacedHttp
    folder: Path | None = None
    close: Callable[[], None] = lambda: None


def prepare(
    source: str,
    timeframe: str,
    environ: Mapping[str, str] | Environment | None,
    on_wait: Callable[[float, str], None] = lambda seconds, why: None,
    feed: str = "iex",
    adjustment: str | None = None,
    url: str | None = None,
    database: str | None = None,
    out: Path | None = None,
) -> DownloadJob:
    """The provider (keys from ``environ`` or Secrets Manager) and the target: the ledger at
    ``database``, else Parquet files in ``out`` (default ``data/``)."""
    if database and timeframe != "1min":
        raise ValueError("a ledger holds minute bars: download daily bars into Parquet files")
    env = Environment.read(environ)
    http = PacedHttp(on_wait=on_wait)
    provider: BarPages
    if source == "polygon":
        if feed != "iex":
            raise ValueError("--feed is Alpaca's: Polygon has one consolidated feed")
        key, _ = feed_keys("polygon", env)
        adjustment = adjustment or "split"
        provider = PolygonBars(key, http, url or env.polygon_url or POLYGON_URL, adjustment)
    else:
        key, secret = feed_keys("alpaca", env)
        adjustment = adjustment or "raw"
        provider = AlpacaBars(key, secret, http, url or env.apca_data_url or ALPACA_URL, feed, adjustment)
    described = {
        "source": provider.name,
        "feed": feed if source == "alpaca" else "consolidated",
        "adjustment": adjustment,
    }
    if database:
        from quantterminal.wiring.factories import open_ledger  # noqa: PLC0415 - only a ledger target needs it

        ledger = open_ledger(database, create=False)
        return DownloadJob(provider, LedgerBars(ledger), http, close=ledger.close)
    folder = out or Path("data")
    return DownloadJob(provider, ParquetFiles(folder, timeframe, described), http, folder)
