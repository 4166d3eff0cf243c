"""The replay server over a real websocket on loopback: protocol, real data, and every chaos mode."""

from __future__ import annotations

import json
import time

import pytest
import websocket

from quantterminal.adapters.market_data import alpaca_data
from quantterminal.adapters.market_data.csv_bars import SAMPLE_ROOT, load_bars
from quantterminal.adapters.replay.replay_server import Chaos, ReplayServer
from quantterminal.core.market_data.feed_events import BarUpdate, Control
from quantterminal.core.models import Bar


@pytest.fixture(scope="module")
def spy() -> list[Bar]:
    """Two regular sessions of real SPY minute bars (LEAN, shipped with the repo)."""
    bars = load_bars(SAMPLE_ROOT / "lean_2013" / "SPY_1min_2013-10-04_2013-10-11_ext.csv", regular_hours_only=True)
    return bars["SPY"][:780]


def connect(
    server: ReplayServer, timeout: float = 5.0, key: str = "replay"
) -> tuple[websocket.WebSocket, list[Control]]:
    ws = websocket.create_connection(server.url, timeout=timeout)
    controls = [e for e in alpaca_data.parse_frame(ws.recv()).events if isinstance(e, Control)]
    ws.send(json.dumps({"action": "auth", "key": key, "secret": "replay"}))
    controls += [e for e in alpaca_data.parse_frame(ws.recv()).events if isinstance(e, Control)]
    if controls[-1].kind != "authenticated":
        return ws, controls
    ws.send(json.dumps({"action": "subscribe", "bars": ["SPY"]}))
    controls += [e for e in alpaca_data.parse_frame(ws.recv()).events if isinstance(e, Control)]
    return ws, controls


def drain(ws: websocket.WebSocket, until: int, received: list[Bar], malformed: list[str]) -> str:
    """Read bars until ``until`` have arrived; return why reading stopped."""
    try:
        while len(received) < until:
            parsed = alpaca_data.parse_frame(ws.recv())
            malformed += [m.reason for m in parsed.malformed]
            received += [e.bar for e in parsed.events if isinstance(e, BarUpdate)]
    except websocket.WebSocketConnectionClosedException:
        return "closed"
    except websocket.WebSocketTimeoutException:
        return "silent"
    return "done"


def test_real_bars_arrive_whole_and_in_order(spy: list[Bar]) -> None:
    with ReplayServer(spy) as server:
        ws, controls = connect(server)
        assert [c.kind for c in controls] == ["connected", "authenticated", "subscribed"]
        received: list[Bar] = []
        assert drain(ws, len(spy), received, []) == "done"
        ws.close()
    assert received == spy


def test_dropped_connections_lose_only_the_bar_in_flight(spy: list[Bar]) -> None:
    received: list[Bar] = []
    with ReplayServer(spy, chaos=Chaos(drop_every=100)) as server:
        while len(received) + len(server.lost) < len(spy):
            ws, _ = connect(server)
            drain(ws, len(spy), received, [])
            ws.close()
        lost = list(server.lost)
    assert len(lost) == (len(spy) - 1) // 100
    assert sorted(received + lost, key=lambda b: b.timestamp) == spy


def test_garbage_frames_are_reported_and_the_bars_still_come(spy: list[Bar]) -> None:
    received: list[Bar] = []
    malformed: list[str] = []
    with ReplayServer(spy[:200], chaos=Chaos(garbage_every=50)) as server:
        ws, _ = connect(server)
        drain(ws, 200, received, malformed)
        ws.close()
    assert received == spy[:200]
    assert malformed == ["frame is not JSON"] * 3


def test_a_silent_feed_times_the_reader_out_then_resumes(spy: list[Bar]) -> None:
    received: list[Bar] = []
    with ReplayServer(spy[:120], chaos=Chaos(silence_every=60, silence_seconds=3.0)) as server:
        ws, _ = connect(server, timeout=1.0)
        assert drain(ws, 120, received, []) == "silent"
        assert len(received) == 60
        time.sleep(2.5)
        assert drain(ws, 120, received, []) == "done"
        ws.close()
    assert received == spy[:120]


@pytest.mark.parametrize(
    ("chaos", "kind", "code"),
    [(Chaos(refuse_auth=True), "auth_failed", 402), (Chaos(connection_limit=True), "connection_limit", 406)],
)
def test_refusals_speak_alpacas_error_codes(spy: list[Bar], chaos: Chaos, kind: str, code: int) -> None:
    with ReplayServer(spy[:10], chaos=chaos) as server:
        ws, controls = connect(server)
        ws.close()
    assert (controls[-1].kind, controls[-1].code) == (kind, code)


def test_wrong_credentials_are_refused(spy: list[Bar]) -> None:
    with ReplayServer(spy[:10]) as server:
        ws, controls = connect(server, key="intruder")
        ws.close()
    assert controls[-1].kind == "auth_failed"


def test_qterm_replay_server_serves_until_interrupted() -> None:
    import shutil
    import signal
    import subprocess
    import sys
    from pathlib import Path

    qterm = shutil.which("qterm", path=str(Path(sys.executable).parent))
    assert qterm
    proc = subprocess.Popen(
        [qterm, "replay-server", "--port", "0", "--speed", "0", "--rth"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert "replaying 7,018 bars of BAC, IBM, SPY on ws://127.0.0.1:" in banner
        url = banner.split(" on ", 1)[1].split(" ", 1)[0]
        ws = websocket.create_connection(url, timeout=5)
        ws.recv()
        ws.send(json.dumps({"action": "auth", "key": "replay", "secret": "replay"}))
        assert json.loads(ws.recv())[0]["msg"] == "authenticated"
        ws.send(json.dumps({"action": "subscribe", "bars": ["IBM"]}))
        ws.recv()
        (bar,) = alpaca_data.parse_frame(ws.recv()).events
        assert isinstance(bar, BarUpdate)
        assert bar.bar.symbol == "IBM"
        ws.close()
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0
    assert "stopped after" in out


def test_alpaca_pys_own_stock_data_stream_reads_the_replay_in_messagepack(spy: list[Bar]) -> None:
    """alpaca-py's ``StockDataStream`` asks for MessagePack (``Content-Type: application/msgpack``
    on the handshake) and reads binary frames with times as MessagePack Timestamps, as Alpaca's
    server sends them (docs: "Real-time Stock Data -- Streaming, msgpack"); a user's existing
    alpaca-py code then runs against a replay unchanged."""
    import threading

    from alpaca.data.live.stock import StockDataStream

    want = spy[:40]
    got: list[object] = []
    done = threading.Event()
    with ReplayServer(want) as server:
        stream = StockDataStream("replay", "replay", url_override=server.url)

        async def on_bar(bar: object) -> None:
            got.append(bar)
            if len(got) >= len(want):
                done.set()

        stream.subscribe_bars(on_bar, "SPY")
        thread = threading.Thread(target=stream.run, daemon=True)
        thread.start()
        assert done.wait(20), f"alpaca-py received {len(got)} of {len(want)} bars"
        stream.stop()
        thread.join(10)
    first = got[0]
    assert first.symbol == "SPY"  # type: ignore[attr-defined]
    assert first.timestamp == want[0].timestamp  # type: ignore[attr-defined]
    assert [(b.open, b.high, b.low, b.close, b.volume) for b in got] == [  # type: ignore[attr-defined]
        (b.open, b.high, b.low, b.close, float(b.volume)) for b in want
    ]
