"""New keys without a redeploy. Resetting an Alpaca paper account regenerates its keys, and the
old ones are refused at once: REST answers 401 (Alpaca's documented ``{"code": 40110000,
"message": "request is not authorized"}``), the trade_updates stream answers ``unauthorized``, the
data stream refuses the login. Each of ours then reads the keys again from the secret (past its
cache: Secrets Manager on moto) and carries on with the new ones; with no new keys in the secret
the refusal stands, read once, not looped on."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from decimal import Decimal

import boto3
import pytest
from moto import mock_aws

from quantterminal.adapters.broker.alpaca_broker import AlpacaBroker
from quantterminal.adapters.market_data.feed_connection import FeedConnection, FeedSettings
from quantterminal.adapters.replay.replay_server import ReplayServer
from quantterminal.core.accounting.orders import Order, OrderType, OrderUpdate
from quantterminal.core.market_data.feed_events import BarUpdate, FeedEvent
from quantterminal.core.models import Bar, Side
from quantterminal.core.trading.broker import BrokerRejected
from tests.fakes.alpaca_server import KEY, SECRET, FakeAlpaca
from tests.fakes.alpaca_stream import FakeTradingStream
from tests.private_services import wait_until

NEW = ("PKNEW", "secret-new")


def order(coid: str) -> Order:
    return Order(coid, "momentum", "SPY", Side.BUY, 10, OrderType.LIMIT, datetime.now(UTC), Decimal("624.48"),
                 Decimal("624.50"))  # fmt: skip


@pytest.mark.usefixtures("aws_credentials")
def test_a_401_reads_the_secret_again_and_the_order_goes_out_with_the_new_keys(alpaca: FakeAlpaca) -> None:
    with mock_aws():
        secrets = boto3.client("secretsmanager")
        keys = {"APCA_API_KEY_ID": KEY, "APCA_API_SECRET_KEY": SECRET}
        arn = secrets.create_secret(Name="AlpacaKeys", SecretString=json.dumps(keys))["ARN"]
        env = {"ALPACA_SECRET_ID": arn, "APCA_API_BASE_URL": alpaca.url}
        broker = AlpacaBroker.from_env(env, secrets)
        broker.submit(order("momentum-1"))
        # The account is reset: new keys, the old ones refused from now on; the operator stores the new ones
        alpaca.keys = NEW
        secrets.put_secret_value(SecretId=arn, SecretString=json.dumps(
            {"APCA_API_KEY_ID": NEW[0], "APCA_API_SECRET_KEY": NEW[1]}))  # fmt: skip
        placed = broker.submit(order("momentum-2"))
        assert placed.client_order_id == "momentum-2"
        assert sorted(alpaca.orders) == ["momentum-1", "momentum-2"], "each order exactly once"
        assert broker.keys == NEW
        # Reset again, but nobody updated the secret: the 401 stands (one fresh read, no loop)
        alpaca.keys = ("PKNEWER", "secret-newer")
        before = len(alpaca.requests)
        with pytest.raises(BrokerRejected, match="HTTP 401"):
            broker.submit(order("momentum-3"))
        assert len(alpaca.requests) - before <= 2


def test_the_trade_updates_stream_logs_in_again_with_the_new_keys(alpaca: FakeAlpaca) -> None:
    secret = {"keys": (KEY, SECRET)}  # what the secret holds
    with FakeTradingStream([]) as stream:
        broker = AlpacaBroker(KEY, SECRET, url_override=alpaca.url, stream_url=stream.url,
                              reload_keys=lambda: secret["keys"])  # fmt: skip
        broker.submit(order("momentum-1"))
        received: list[OrderUpdate] = []
        alerts: list[str] = []
        broker.on_update(
            received.append, alert=alerts.append, backoff_base=0.05, backoff_cap=0.2, refusal_backoff=600.0
        )  # fmt: skip  (a refusal not followed by new keys waits long)
        wait_until(lambda: stream.connections == 1, "the first login")
        alpaca.keys = stream.keys = secret["keys"] = NEW
        stream.drop()
        wait_until(lambda: stream.connections == 2, "logged in again with the new keys, not after 600 s")
        assert stream.auth_failures == 1
        assert any("new keys read" in a for a in alerts), alerts
        assert stream.push(alpaca.fill("momentum-1", 10, "624.40"))
        wait_until(lambda: len(received) == 1, "the fill to come through")
        broker.close()


def test_the_market_data_feed_logs_in_again_with_the_new_keys(spy_2011_rth: list[Bar]) -> None:
    secret = {"keys": ("replay", "replay")}
    bars: list[Bar] = []
    alerts: list[str] = []

    def on_event(event: FeedEvent) -> None:
        if isinstance(event, BarUpdate):
            bars.append(event.bar)

    with ReplayServer(spy_2011_rth[:400], speed=600) as server:
        settings = FeedSettings(server.url, "replay", "replay", bars=("SPY",), backoff_base=0.05, backoff_cap=0.2,
                                refusal_backoff=600.0)  # fmt: skip
        connection = FeedConnection(settings, on_event, alert=alerts.append, reload_keys=lambda: secret["keys"])
        stop = threading.Event()
        reader = threading.Thread(target=connection.run, args=(stop,), daemon=True)
        reader.start()
        wait_until(lambda: len(bars) >= 5, "the first bars")
        server.credentials = secret["keys"] = ("PKNEW", "new")
        connection.interrupt()  # the link drops; the next login uses the old keys and is refused
        wait_until(lambda: connection.stats.refusals >= 1, "the refused login")
        count = len(bars)
        wait_until(lambda: len(bars) > count + 5, "trading data again with the new keys, not after 600 s")
        stop.set()
        connection.interrupt()
        reader.join(10)
    assert any("new keys read" in a for a in alerts), alerts
    assert connection.settings.key == "PKNEW"
