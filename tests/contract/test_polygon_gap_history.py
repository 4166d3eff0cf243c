"""A Polygon feed fills its gaps from Polygon's own aggregates (unadjusted, as streamed), never
from Alpaca's IEX bars: the loopback history server speaks Polygon's documented aggregates API
(``GET /v2/aggs/ticker/{ticker}/range/1/minute/{from}/{to}``, the key as ``Authorization: Bearer``,
``next_url`` paging, 429 when over the plan's limit)."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantterminal.adapters.market_data.csv_bars import load_bars
from quantterminal.adapters.market_data.paged_history import polygon_history
from quantterminal.adapters.replay.history_server import HistoryServer
from quantterminal.cli.main import main
from quantterminal.core.models import Bar
from quantterminal.core.ports import HistoryUnavailable

LEAN = Path(__file__).resolve().parents[2] / "shared" / "quantterminal" / "sample_data" / "lean_2013"


def ohlcv(bar: Bar) -> tuple[object, ...]:
    return bar.timestamp, bar.open, bar.high, bar.low, bar.close, bar.volume  # (Polygon adds vw and n)


@pytest.fixture(scope="module")
def spy() -> list[Bar]:
    return load_bars(LEAN / "SPY_1min_2013-10-04_2013-10-11_ext.csv", regular_hours_only=True)["SPY"]


def test_a_gap_comes_from_polygons_aggregates_page_by_page(spy: list[Bar]) -> None:
    with HistoryServer(spy, page_size=50, polygon_key="pk-test") as server:
        history = polygon_history("pk-test", server.url)
        start, end = spy[10].timestamp, spy[130].timestamp
        got = history.minute_bars("SPY", start, end)
        assert [ohlcv(b) for b in got] == [ohlcv(b) for b in spy[10:130]]
        assert server.polygon_requests == server.requests >= 3  # three pages, all Polygon's


def test_a_refused_or_rate_limited_history_is_unavailable_at_once(spy: list[Bar]) -> None:
    with HistoryServer(spy, polygon_key="pk-test") as server, pytest.raises(HistoryUnavailable, match="polygon"):
        polygon_history("wrong", server.url).minute_bars("SPY", spy[0].timestamp, spy[5].timestamp)
    with HistoryServer(spy, polygon_key="pk-test", rate_limit=0) as server:
        with pytest.raises(HistoryUnavailable, match="429"):
            polygon_history("pk-test", server.url).minute_bars("SPY", spy[0].timestamp, spy[5].timestamp)
        assert server.requests == 1, "a live feed's backfill does not wait out a plan's limit"


def test_qterm_feed_on_polygon_backfills_from_polygon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    servers: list[HistoryServer] = []
    original = HistoryServer.__enter__

    def keep(self: HistoryServer) -> HistoryServer:
        servers.append(self)
        return original(self)

    monkeypatch.setattr(HistoryServer, "__enter__", keep)
    database = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    args = ["feed", "--provider", "polygon", "--rth", "--database", database, "--drop-every", "2000"]
    assert main([*args, "--idle-exit", "1"]) == 0
    (server,) = servers
    assert server.requests > 0
    assert server.polygon_requests == server.requests, "no gap was filled from Alpaca's bars"
