"""A live feed's gap backfill from the provider it streams from: on a Polygon feed, a missing
minute is fetched from Polygon's own aggregates (unadjusted, as streamed), never from another
provider's feed, whose bars differ (Alpaca's IEX bars are one venue's trades; Polygon's are the
consolidated tape's). Impatient by design: a few tries, then ``HistoryUnavailable`` -- the gap is
counted as unfilled and the scheduled backfill repairs it."""

from __future__ import annotations

from datetime import datetime

from quantterminal.adapters.market_data.bar_download import POLYGON_URL, BarPages, PacedHttp, PolygonBars
from quantterminal.core.models import Bar
from quantterminal.core.ports import HistoryUnavailable
from quantterminal.errors import DownloadError


class PagedHistory:
    """``HistoricalBars`` over a provider's bar pages."""

    def __init__(self, pages: BarPages) -> None:
        self.pages = pages

    def minute_bars(self, symbol: str, start: datetime, end: datetime) -> list[Bar]:
        try:
            return [bar for page in self.pages.pages(symbol, start, end, "1min") for bar in page]
        except DownloadError as exc:
            raise HistoryUnavailable(f"{self.pages.name} history: {exc}") from None


def polygon_history(key: str, url: str | None = None) -> PagedHistory:
    """Polygon's minute aggregates for gaps: unadjusted (as the stream's), two tries, one 429."""
    http = PacedHttp(timeout=10.0, attempts=2, rate_limited_times=1)
    return PagedHistory(PolygonBars(key, http, url or POLYGON_URL, adjustment="raw"))
