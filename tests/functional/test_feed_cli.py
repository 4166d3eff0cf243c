"""``qterm feed`` end to end on loopback: a replay server with chaos -> websocket -> bars -> ledger
(SQLite and the real PostgreSQL), and the feed connection speaking Polygon's protocol."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from quantterminal.adapters.market_data.csv_bars import SAMPLE_ROOT, load_bars
from quantterminal.adapters.market_data.feed_connection import PROVIDERS, FeedConnection, FeedSettings
from quantterminal.adapters.replay.replay_server import Chaos, ReplayServer
from quantterminal.cli.main import main
from quantterminal.core.market_data.feed_events import BarUpdate, FeedEvent
from quantterminal.core.models import Bar
from quantterminal.wiring.factories import open_ledger
from tests.services import POSTGRES_URL, check_postgres, drop_schema, new_schema, require

LEAN = SAMPLE_ROOT / "lean_2013"


def ohlcv(bars: list[Bar]) -> list[tuple[object, ...]]:
    return [(b.symbol, b.timestamp, b.open, b.high, b.low, b.close, b.volume) for b in bars]


def assert_ledger_equals_the_file(url: str) -> None:
    ledger = open_ledger(url)
    try:
        for symbol, rows in load_bars(LEAN, regular_hours_only=True).items():
            assert ohlcv(ledger.last_bars(symbol, 100_000)) == ohlcv(rows), symbol
    finally:
        ledger.close()


def test_a_chaos_replay_ends_with_exactly_the_files_bars_in_the_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'feed.sqlite3'}"
    chaos = ["--drop-every", "1500", "--garbage-every", "1000", "--silence-every", "3000", "--silence-seconds", "2"]
    args = ["feed", "--rth", "--database", url, *chaos, "--silence", "1"]
    assert main([*args, "--health-every", "1", "--idle-exit", "2.5"]) == 0
    out = capsys.readouterr().out
    assert "replaying 7,018 bars of BAC, IBM, SPY" in out
    assert "feed ok |" in out
    assert "7,018 bars emitted (" in out
    assert "ledger: 7,018 new, 0 revised, 0 unchanged" in out
    assert_ledger_equals_the_file(url)
    # a second run over the same data changes nothing in the ledger
    assert main([*args, "--idle-exit", "1"]) == 0
    assert "ledger: 0 new, 0 revised, 7,018 unchanged" in capsys.readouterr().out


# what the feed makes of each of the replay server's hostile frames, in its order
HOSTILE_KINDS = ("malformed", "future", *["malformed"] * 5, "unsubscribed", "unsubscribed")


def test_hostile_frames_never_stop_the_feed_nor_poison_later_bars(capsys: pytest.CaptureFixture[str]) -> None:
    """Every 50 bars a hostile frame (a frame nested 100,000 deep, a bar dated 2100, a volume of
    2^70, a zone-less time, strings and booleans for numbers, a fractional volume, a symbol not
    subscribed, a 5,000-character symbol): each is counted and skipped, the 2100 bar is dropped as
    from the future and the strangers' bars as not subscribed, the reader lives on, and the ledger
    ends with exactly the file's bars (a stored 2100 bar made every later real bar "too old")."""
    require("PostgreSQL at 127.0.0.1:5432", check_postgres)
    schema = new_schema()
    url = f"{POSTGRES_URL}?schema={schema}"
    try:
        args = ["feed", "--rth", "--database", url, "--hostile-every", "50", "--health-every", "1"]
        assert main([*args, "--idle-exit", "2.5"]) == 0
        out = capsys.readouterr().out
        assert "7,018 bars emitted (" in out
        assert "ledger: 7,018 new, 0 revised, 0 unchanged" in out
        last_health = [line for line in out.splitlines() if line.startswith("feed ") and " | " in line][-1]
        assert last_health.startswith("feed ok |"), last_health
        kinds = [HOSTILE_KINDS[k % len(HOSTILE_KINDS)] for k in range(7_018 // 50)]  # in the server's order
        future, unsubscribed = kinds.count("future"), kinds.count("unsubscribed")
        assert f"late 0 (stored, not traded) | dropped {future} future, {unsubscribed} unsubscribed" in last_health
        malformed = int(last_health.split("malformed ")[1].split()[0])
        assert malformed == kinds.count("malformed")
        assert_ledger_equals_the_file(url)
    finally:
        drop_schema(schema)


def test_the_polygon_protocol_into_postgresql(capsys: pytest.CaptureFixture[str]) -> None:
    require("PostgreSQL at 127.0.0.1:5432", check_postgres)
    schema = new_schema()
    try:
        url = f"{POSTGRES_URL}?schema={schema}"
        args = ["feed", "--provider", "polygon", "--rth", "--database", url, "--drop-every", "2000"]
        assert main([*args, "--idle-exit", "1"]) == 0
        assert "7,018 bars emitted (3 backfilled" in capsys.readouterr().out
        assert_ledger_equals_the_file(url)
    finally:
        drop_schema(schema)


def test_bad_arguments_are_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["feed", "--replay", "sample:nope"]) == 2
    assert "unknown sample data set 'nope'" in capsys.readouterr().err
    assert main(["feed", "--url", "ws://127.0.0.1:9", "--symbols", "SPY"]) == 2
    assert "Alpaca keys missing" in capsys.readouterr().err


@pytest.mark.parametrize("chaos", [Chaos(refuse_auth=True), Chaos(connection_limit=True)])
def test_polygon_refusals_back_off_long(chaos: Chaos) -> None:
    bars = load_bars(LEAN / "SPY_1min_2013-10-04_2013-10-11_ext.csv")["SPY"][:10]
    delays: list[float] = []
    with ReplayServer(bars, chaos=chaos, protocol="polygon") as server:
        settings = FeedSettings(server.url, "replay", "", bars=("SPY",), refusal_backoff=60, refusal_cap=240)
        connection = FeedConnection(settings, lambda e: None, provider=PROVIDERS["polygon"], sleep=delays.append)
        stop = threading.Event()
        thread = threading.Thread(target=connection.run, args=(stop,), daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while len(delays) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        stop.set()
        thread.join(10)
    assert all(d / 2 <= got <= d for got, d in zip(delays[:3], [60, 120, 240], strict=True)), delays


def test_polygon_reconnects_and_resubscribes_after_drops() -> None:
    bars = load_bars(LEAN / "SPY_1min_2013-10-04_2013-10-11_ext.csv", regular_hours_only=True)["SPY"][:300]
    got: list[Bar] = []

    def on_event(event: FeedEvent) -> None:
        if isinstance(event, BarUpdate):
            got.append(event.bar)

    with ReplayServer(bars, chaos=Chaos(drop_every=100), protocol="polygon") as server:
        settings = FeedSettings(server.url, "replay", "", bars=("SPY",), backoff_base=0.01, backoff_cap=0.05)
        connection = FeedConnection(settings, on_event, provider=PROVIDERS["polygon"])
        stop = threading.Event()
        thread = threading.Thread(target=connection.run, args=(stop,), daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while len(got) + len(server.lost) < len(bars) and time.monotonic() < deadline:
            time.sleep(0.02)
        stop.set()
        connection.interrupt()
        thread.join(10)
        lost = list(server.lost)
    assert connection.stats.reconnects >= 2
    assert ohlcv(sorted(got + lost, key=lambda b: b.timestamp)) == ohlcv(bars)
