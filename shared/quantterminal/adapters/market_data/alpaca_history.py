"""Alpaca's historical minute bars (alpaca-py ``StockHistoricalDataClient``), for backfilling gaps.

Keys as for trading (``APCA_API_KEY_ID`` / ``APCA_API_SECRET_KEY``); ``url_override`` points it at a
local endpoint in tests. Connection failures and 429/5xx raise ``HistoryUnavailable`` so the feed
can retry the backfill later instead of emitting a hole.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import requests
from alpaca.common.exceptions import APIError
from alpaca.data.enums import DataFeed
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame

from quantterminal.adapters.http_timeouts import TimeoutAdapter
from quantterminal.adapters.market_data.alpaca_data import bar_from_message
from quantterminal.core.models import Bar
from quantterminal.core.ports import HistoryUnavailable

__all__ = ["AlpacaHistoricalBars", "HistoryUnavailable"]


class AlpacaHistoricalBars:
    """Minute bars from Alpaca's historical data API."""

    def __init__(
        self,
        api_key: str,
        secret_key: str,
        url_override: str | None = None,
        feed: str = "iex",
        client: Any | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.client = client or StockHistoricalDataClient(api_key, secret_key, raw_data=True, url_override=url_override)
        if client is None:
            # No silent waiting inside alpaca-py (it sleeps and retries 429s by itself) and no
            # request without a timeout: an unavailable history is said at once, and retried later.
            self.client._retry = 0
            session = self.client._session
            session.mount("http://", TimeoutAdapter(timeout))
            session.mount("https://", TimeoutAdapter(timeout))
        self.feed = DataFeed(feed)

    def minute_bars(self, symbol: str, start: datetime, end: datetime) -> list[Bar]:
        request = StockBarsRequest(
            symbol_or_symbols=symbol, timeframe=TimeFrame.Minute, start=start, end=end, feed=self.feed
        )
        try:
            raw: Any = self.client.get_stock_bars(request)  # raw_data=True: {symbol: [bar dicts]}
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise HistoryUnavailable(f"historical bars: {type(exc).__name__}") from None
        except APIError as exc:
            raise HistoryUnavailable(f"historical bars: HTTP {exc.status_code}") from None
        bars = [bar_from_message(m, symbol) for m in raw.get(symbol, [])]
        return [b for b in sorted(bars, key=lambda b: b.timestamp) if start <= b.timestamp < end]
