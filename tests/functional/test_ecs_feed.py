"""The ECS feed task's entry point, wired as in AWS: replayed bars over a websocket -> Kinesis
"bars" (moto), the account's trade updates (a real websocket) -> Kinesis "orders", metrics as EMF."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ecs_feed.main import main
from quantterminal.adapters.market_data.csv_bars import SAMPLE_ROOT, load_bars
from quantterminal.adapters.replay.replay_server import ReplayServer
from quantterminal.core.trading.feed_codec import decode_bar_update, decode_order_update
from tests.contract.test_alpaca_broker import FIXTURES, fixture_messages
from tests.fakes.alpaca_server import KEY, SECRET
from tests.fakes.alpaca_stream import FakeTradingStream


def records(client: Any, stream: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for shard in client.describe_stream(StreamName=stream)["StreamDescription"]["Shards"]:
        it = client.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
        out += client.get_records(ShardIterator=it["ShardIterator"], Limit=10_000)["Records"]
    return out


@pytest.mark.skipif(not FIXTURES.exists(), reason="shared/fixtures not beside the checkout")
def test_the_feed_task_puts_bars_and_order_updates_on_their_streams(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    aws_credentials: None,
) -> None:
    spy = load_bars(SAMPLE_ROOT / "lean_2013" / "SPY_1min_2013-10-04_2013-10-11_ext.csv", regular_hours_only=True)
    bars = spy["SPY"][:200]
    frames = fixture_messages()
    with (
        mock_aws(),
        ReplayServer(bars, key=KEY, secret=SECRET) as server,
        FakeTradingStream([frames["A_new"], frames["A_fill"]]) as trading,
    ):
        kinesis = boto3.client("kinesis")
        kinesis.create_stream(StreamName="bars", ShardCount=1)
        kinesis.create_stream(StreamName="orders", ShardCount=1)
        env = {
            "QT_SYMBOLS": "SPY",
            "QT_FEED_URL": server.url,
            "QT_BARS_STREAM": "bars",
            "QT_ORDERS_STREAM": "orders",
            "APCA_API_KEY_ID": KEY,
            "APCA_API_SECRET_KEY": SECRET,
            "APCA_STREAM_URL": trading.url,
            "APCA_API_BASE_URL": "http://127.0.0.1:9",
        }
        stop = threading.Event()
        result: list[int] = []
        thread = threading.Thread(target=lambda: result.append(main(env, stop)), daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while len(records(kinesis, "bars")) < len(bars) and time.monotonic() < deadline:
            time.sleep(0.2)
        stop.set()
        thread.join(30)
        assert result == [0]
        got_bars = [decode_bar_update(r["Data"]).bar for r in records(kinesis, "bars")]
        got_orders = [decode_order_update(r["Data"]) for r in records(kinesis, "orders")]
    assert got_bars == bars
    assert [u.event for u in got_orders] == ["new", "fill"]
    (stopped,) = [r for r in caplog.records if r.getMessage() == "feed stopped"]
    assert (stopped.bars, stopped.backfilled, stopped.status) == (200, 0, "ok")  # type: ignore[attr-defined]
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert sum(entry["FeedBars"][0] for entry in emf) == 200, "health went out as EMF metrics"
    assert SECRET not in caplog.text
