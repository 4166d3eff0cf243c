"""The feed connection against the replay server on loopback: drops, silence, garbage, refusals."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest

from quantterminal.adapters.market_data.csv_bars import SAMPLE_ROOT, load_bars
from quantterminal.adapters.market_data.feed_connection import FeedConnection, FeedSettings
from quantterminal.adapters.replay.replay_server import Chaos, ReplayServer
from quantterminal.core.market_data.feed_events import BarUpdate, FeedEvent
from quantterminal.core.models import Bar


@pytest.fixture(scope="module")
def spy() -> list[Bar]:
    bars = load_bars(SAMPLE_ROOT / "lean_2013" / "SPY_1min_2013-10-04_2013-10-11_ext.csv", regular_hours_only=True)
    return bars["SPY"][:400]


def run_until(connection: FeedConnection, done: Callable[[], bool], seconds: float = 60) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=connection.run, args=(stop,), daemon=True)
    thread.start()
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    thread.join(10)
    assert not thread.is_alive()


def collector() -> tuple[list[Bar], Callable[[FeedEvent], None]]:
    bars: list[Bar] = []

    def on_event(event: FeedEvent) -> None:
        if isinstance(event, BarUpdate):
            bars.append(event.bar)

    return bars, on_event


def settings(server: ReplayServer, **overrides: object) -> FeedSettings:
    values: dict[str, object] = {
        "url": server.url,
        "key": "replay",
        "secret": "replay",
        "bars": ("SPY",),
        "silence_timeout": 1.0,
        "backoff_base": 0.01,
        "backoff_cap": 0.05,
    }
    values.update(overrides)
    return FeedSettings(**values)  # type: ignore[arg-type]


def test_drops_are_survived_by_reconnecting_and_resubscribing(spy: list[Bar]) -> None:
    bars, on_event = collector()
    with ReplayServer(spy, chaos=Chaos(drop_every=90)) as server:
        connection = FeedConnection(settings(server), on_event)
        run_until(connection, lambda: len(bars) + len(server.lost) >= len(spy))
        lost = list(server.lost)
    assert connection.stats.reconnects >= 4
    assert connection.stats.connects >= 5
    assert sorted(bars + lost, key=lambda b: b.timestamp) == spy
    assert bars == sorted(bars, key=lambda b: b.timestamp)


def test_a_quiet_but_alive_stream_stays_open_with_pings(spy: list[Bar]) -> None:
    """Minute bars come once a minute: between them the client pings (RFC 6455 keepalive) and the
    server's pongs keep the one connection open -- no reconnect, so no login, per quiet spell (the
    old 5 s read timeout logged in again every 5 s: 15 logins in 75 s at a bar every 15 s)."""
    bars, on_event = collector()
    with ReplayServer(spy[:150], chaos=Chaos(silence_every=50, silence_seconds=2.5)) as server:
        connection = FeedConnection(settings(server, silence_timeout=0.5, pong_timeout=1.0), on_event)
        run_until(connection, lambda: len(bars) >= 150)
        logins = server.connections
    assert bars == spy[:150]
    assert connection.stats.silences >= 4  # pinged through both quiet spells
    assert connection.stats.reconnects == 0
    assert connection.stats.dead == 0
    assert logins == 1


def test_a_dead_link_is_found_by_its_missing_pong_and_reopened_in_seconds(spy: list[Bar]) -> None:
    bars, on_event = collector()
    with ReplayServer(spy[:150], chaos=Chaos(hang_every=60)) as server:
        connection = FeedConnection(settings(server, silence_timeout=0.5, pong_timeout=0.5), on_event)
        started = time.monotonic()
        run_until(connection, lambda: len(bars) + len(server.lost) >= 150)
        took = time.monotonic() - started
        lost = list(server.lost)
    assert connection.stats.dead >= 2
    assert connection.stats.reconnects >= 2
    assert sorted(bars + lost, key=lambda b: b.timestamp) == spy[:150]
    assert took < 15  # two dead links, each noticed within silence + pong timeouts (1 s), not minutes


def test_garbage_is_counted_logged_once_and_skipped(spy: list[Bar], caplog: pytest.LogCaptureFixture) -> None:
    bars, on_event = collector()
    with ReplayServer(spy[:200], chaos=Chaos(garbage_every=40)) as server:
        connection = FeedConnection(settings(server), on_event)
        run_until(connection, lambda: len(bars) >= 200)
    assert bars == spy[:200]
    assert connection.stats.malformed == 4
    assert sum("skipping malformed market data" in r.message for r in caplog.records) == 1


@pytest.mark.parametrize("chaos", [Chaos(refuse_auth=True), Chaos(connection_limit=True)])
def test_refusals_back_off_long_and_alert_instead_of_hammering(spy: list[Bar], chaos: Chaos) -> None:
    delays: list[float] = []
    alerts: list[str] = []
    with ReplayServer(spy[:10], chaos=chaos) as server:
        connection = FeedConnection(
            settings(server, refusal_backoff=60, refusal_cap=300),
            lambda e: None,
            alert=alerts.append,
            sleep=delays.append,
        )
        run_until(connection, lambda: len(delays) >= 4)
        attempts = server.connections
    # doubling up to the cap, each jittered within its upper half (refused processes spread out)
    assert all(d / 2 <= got <= d for got, d in zip(delays[:4], [60, 120, 240, 300], strict=True)), delays
    assert len(alerts) >= 4
    assert "refused" in alerts[0]
    assert attempts == len(delays) or attempts == len(delays) + 1
    assert "replay" not in repr(connection.settings)


def test_after_a_chaos_run_the_emitted_bars_equal_the_file(spy: list[Bar]) -> None:
    """Drops lose bars in flight and repeat nothing; the bar stream backfills every gap from the
    historical endpoint, so what comes out is exactly the file, once each, in order."""
    import dataclasses

    from quantterminal.adapters.market_data.alpaca_history import AlpacaHistoricalBars
    from quantterminal.adapters.replay.history_server import HistoryServer
    from quantterminal.core.market_data.bar_stream import BarStream
    from quantterminal.core.market_data.feed_events import BarSource

    # Historical bars carry vwap and trade count; give the file's bars the same so they compare.
    history_bars = [dataclasses.replace(b, vwap=b.close, trade_count=0) for b in spy]
    emitted: list[BarUpdate] = []
    with (
        ReplayServer(spy, chaos=Chaos(drop_every=70, garbage_every=45)) as server,
        HistoryServer(history_bars, page_size=7) as history,
    ):
        stream = BarStream(AlpacaHistoricalBars("k", "s", url_override=history.url), emitted.append)
        connection = FeedConnection(settings(server), lambda e: stream.on_bar(e) if isinstance(e, BarUpdate) else None)
        run_until(connection, lambda: server.cursor >= len(spy) and server.sent + len(server.lost) >= len(spy))
        stream.finish("SPY", spy[-1].timestamp + timedelta(minutes=1))
        lost = len(server.lost)
    assert lost >= 4
    got = [(u.bar.timestamp, u.bar.open, u.bar.high, u.bar.low, u.bar.close, u.bar.volume) for u in emitted]
    want = [(b.timestamp, b.open, b.high, b.low, b.close, b.volume) for b in spy]
    assert got == want
    # Every bar the server dropped was backfilled. Under CPU load the client can also lose bars the
    # server had sent (a silence reconnect discards what was still unread): those are backfilled too.
    assert stream.stats.backfilled == sum(u.source is BarSource.BACKFILL for u in emitted) >= lost
    assert connection.stats.malformed > 0


def test_a_slow_backfill_never_stops_the_socket_from_being_read(spy: list[Bar]) -> None:
    """A gap's history request runs on the pipeline's thread, not the socket's: while a slow
    historical API answers (here 2 s), the connection keeps reading -- every frame is off the
    socket before the backfill returns -- and the bars still come out complete and in order."""
    from quantterminal.adapters.market_data.alpaca_data import PROVIDER
    from quantterminal.core.market_data.feed_pipeline import FeedPipeline
    from quantterminal.wiring.feed import FeedService

    day = spy[:120]
    missing = day[50:53]
    seen_while_blocked: list[int] = []

    class SlowHistory:
        def minute_bars(self, symbol: str, start: object, end: object) -> list[Bar]:
            time.sleep(2.0)
            seen_while_blocked.append(service.connection.stats.events)
            return [b for b in missing if start <= b.timestamp < end]  # type: ignore[operator]

    emitted: list[BarUpdate] = []
    with ReplayServer([b for b in day if b not in missing]) as server:
        pipeline = FeedPipeline(
            SlowHistory(), [emitted.append], measure_lag=False, clock=lambda: day[-1].timestamp, lock=threading.Lock()
        )
        service = FeedService(settings(server), PROVIDER, pipeline, report_every=60)
        stop = threading.Event()
        thread = threading.Thread(target=service.run, args=(stop,), daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while len(emitted) < len(day) and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        thread.join(30)
    assert seen_while_blocked == [len(day) - len(missing)]  # all read while the backfill was blocked
    assert [u.bar.timestamp for u in emitted] == [b.timestamp for b in day]
