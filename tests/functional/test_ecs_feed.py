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

from ecs_feed.healthcheck import healthy
from ecs_feed.main import main
from quantterminal.adapters.market_data.csv_bars import SAMPLE_ROOT, load_bars
from quantterminal.adapters.replay.replay_server import ReplayServer
from quantterminal.core.market_data.feed_events import BarUpdate, TradingStatus
from quantterminal.core.trading.feed_codec import decode_feed_record, decode_order_update
from tests.contract.test_alpaca_broker import FIXTURES, fixture_messages
from tests.fakes.alpaca_server import KEY, SECRET, FakeAlpaca
from tests.fakes.alpaca_stream import FakeTradingStream


def records(client: Any, stream: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for shard in client.describe_stream(StreamName=stream)["StreamDescription"]["Shards"]:
        it = client.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
        out += client.get_records(ShardIterator=it["ShardIterator"], Limit=10_000)["Records"]
    return out


def feed_streams(server_url: str, trading_url: str, rest_url: str) -> tuple[Any, dict[str, str]]:
    """Kinesis "bars" and "orders" (moto) and the feed task's environment around them."""
    kinesis = boto3.client("kinesis")
    kinesis.create_stream(StreamName="bars", ShardCount=1)
    kinesis.create_stream(StreamName="orders", ShardCount=1)
    env = {
        "QT_SYMBOLS": "SPY",
        "QT_FEED_URL": server_url,
        "QT_BARS_STREAM": "bars",
        "QT_ORDERS_STREAM": "orders",
        "APCA_STREAM_URL": trading_url,
        "APCA_API_BASE_URL": rest_url,
    }
    return kinesis, env


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
        FakeAlpaca() as rest,
    ):
        kinesis, env = feed_streams(server.url, trading.url, rest.url)
        env |= {"APCA_API_KEY_ID": KEY, "APCA_API_SECRET_KEY": SECRET}
        stop = threading.Event()
        result: list[int] = []
        thread = threading.Thread(target=lambda: result.append(main(env, stop)), daemon=True)
        thread.start()

        def on_the_bars_stream() -> list[object]:
            return [decode_feed_record(r["Data"]) for r in records(kinesis, "bars")]

        deadline = time.monotonic() + 30
        while sum(isinstance(u, BarUpdate) for u in on_the_bars_stream()) < len(bars) and time.monotonic() < deadline:
            time.sleep(0.2)
        stop.set()
        thread.join(30)
        assert result == [0]
        stream = on_the_bars_stream()
        got_orders = [decode_order_update(r["Data"]) for r in records(kinesis, "orders")]
    assert [u.bar for u in stream if isinstance(u, BarUpdate)] == bars
    # the session began: the first printed bar re-states SPY's status (a resume missed while away)
    statuses = [u for u in stream if isinstance(u, TradingStatus)]
    assert [(s.symbol, s.halted) for s in statuses] == [("SPY", False)]
    assert stream.index(statuses[0]) == 0, "ahead of the bar that showed it"
    assert [u.event for u in got_orders] == ["new", "fill"]
    (stopped,) = [r for r in caplog.records if r.getMessage() == "feed stopped"]
    assert (stopped.bars, stopped.backfilled, stopped.status) == (200, 0, "ok")  # type: ignore[attr-defined]
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert sum(entry["FeedBars"][0] for entry in emf if "FeedBars" in entry) == 200, "health went out as EMF metrics"
    assert SECRET not in caplog.text


def test_a_first_deploy_comes_up_and_waits_visibly_until_the_keys_are_put_in(
    tmp_path: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, aws_credentials: None
) -> None:
    """The secret as the CDK app creates it (JSON, placeholder values): the task starts, says it is
    waiting (a log line, the FeedWaitingForKeys metric, a healthy health check), and once the keys
    are put into the secret it connects with them -- no redeploy."""
    spy = load_bars(SAMPLE_ROOT / "lean_2013" / "SPY_1min_2013-10-04_2013-10-11_ext.csv", regular_hours_only=True)
    bars = spy["SPY"][:50]
    health = tmp_path / "health.json"
    with (
        mock_aws(),
        ReplayServer(bars, key=KEY, secret=SECRET) as server,
        FakeTradingStream([]) as trading,
        FakeAlpaca() as rest,
    ):
        secrets = boto3.client("secretsmanager")
        arn = secrets.create_secret(
            Name="AlpacaKeys",
            SecretString=json.dumps(
                {"APCA_API_KEY_ID": "REPLACE_ME", "APCA_API_SECRET_KEY": "REPLACE_ME", "unused": "x7"}
            ),
        )["ARN"]
        kinesis, env = feed_streams(server.url, trading.url, rest.url)
        env |= {"ALPACA_SECRET_ID": arn, "QT_FEED_KEYS_RETRY_SECONDS": "0.3", "QT_FEED_HEALTH_FILE": str(health)}
        stop = threading.Event()
        result: list[int] = []
        thread = threading.Thread(target=lambda: result.append(main(env, stop)), daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while (
            not any(r.getMessage() == "feed waiting for keys" for r in caplog.records) and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        time.sleep(0.5)
        assert healthy(str(health)) == (True, "WAITING_FOR_KEYS")
        assert records(kinesis, "bars") == []
        secrets.put_secret_value(
            SecretId=arn, SecretString=json.dumps({"APCA_API_KEY_ID": KEY, "APCA_API_SECRET_KEY": SECRET})
        )

        def bar_records() -> int:
            return sum(isinstance(decode_feed_record(r["Data"]), BarUpdate) for r in records(kinesis, "bars"))

        deadline = time.monotonic() + 30
        while bar_records() < len(bars) and time.monotonic() < deadline:
            time.sleep(0.2)
        stop.set()
        thread.join(30)
        assert result == [0]
        assert bar_records() == len(bars)
    waiting = [r for r in caplog.records if r.getMessage() == "feed waiting for keys"]
    assert waiting
    assert "holds no keys yet: put APCA_API_KEY_ID, APCA_API_SECRET_KEY into it" in waiting[0].reason  # type: ignore[attr-defined]
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    flags = [e["FeedWaitingForKeys"][0] for e in emf if "FeedWaitingForKeys" in e]
    assert flags[0] == 1
    assert flags[-1] == 0
    assert healthy(str(health))[0]
    assert SECRET not in caplog.text


def test_the_container_health_check_follows_the_feeds_own_health(tmp_path: Any) -> None:
    path = tmp_path / "health.json"
    assert healthy(str(path))[0] is False  # nothing reported yet (ECS's start period covers the start)
    path.write_text(json.dumps({"status": "ok", "at": 1000.0}))
    assert healthy(str(path), now=1030.0) == (True, "ok")
    assert healthy(str(path), now=1100.0) == (False, "health not reported for 100 s")
    path.write_text(json.dumps({"status": "DEAD", "at": 1000.0}))
    assert healthy(str(path), now=1001.0) == (False, "the connection reader died")
    path.write_text("{not json")
    assert healthy(str(path))[0] is False
