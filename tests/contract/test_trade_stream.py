"""The account's trade_updates stream against fakes that behave as Alpaca documents: the trading
stream ("WebSocket Streaming": authenticate, listen, binary frames on paper, no replay of what
was sent while nobody listened) and the REST API it is caught up from ("Orders": ``GET
/v2/orders`` paged by submit time; "Account activities": ``GET /v2/account/activities/FILL``
paged with ``page_token``). Every test books what arrived into an ``AccountBook`` and checks the
order against the broker: nothing lost, nothing counted twice."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from quantterminal.adapters.broker.alpaca_broker import AlpacaBroker
from quantterminal.adapters.broker.alpaca_trade_stream import AlpacaTradeStream, TradeStreamSettings
from quantterminal.core.accounting.account_book import AccountBook
from quantterminal.core.accounting.orders import Order, OrderStatus, OrderType, OrderUpdate
from quantterminal.core.models import Side
from tests.fakes.alpaca_server import KEY, SECRET, FakeAlpaca
from tests.fakes.alpaca_stream import FakeTradingStream

COID = "qt-momentum-SPY-1"


def order(qty: int) -> Order:
    now = datetime.now(UTC)
    return Order(COID, "momentum", "SPY", Side.BUY, qty, OrderType.LIMIT, now, Decimal("624.48"), Decimal("624.50"))


def until(condition: Callable[[], bool], seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def start(
    alpaca: FakeAlpaca, stream: FakeTradingStream, **settings: object
) -> tuple[AlpacaBroker, list[OrderUpdate], list[str]]:
    broker = AlpacaBroker(KEY, SECRET, url_override=alpaca.url, stream_url=stream.url)
    broker.submit(order(100))
    received: list[OrderUpdate] = []
    alerts: list[str] = []
    broker.on_update(received.append, alert=alerts.append, **{"backoff_base": 0.05, "backoff_cap": 0.2, **settings})
    assert until(lambda: stream.connections == 1)
    # and the session's own first catch-up is over: what a test does next is not read back by it
    # (on a busy machine it could run late and find a fill meant for the stream, or a sweep)
    assert until(lambda: broker.stream is not None and broker.stream.stats.catch_ups >= 1)
    return broker, received, alerts


def booked(received: list[OrderUpdate]) -> tuple[OrderStatus, int, int, Decimal | None]:
    book = AccountBook(Decimal(100_000))
    book.track(COID, "SPY", Side.BUY, 100)
    book.apply_all(received)
    order = book.orders[COID]
    return order.status, order.filled_qty, order.executed_qty, order.avg_fill_price


def test_a_quiet_account_keeps_one_connection(alpaca: FakeAlpaca) -> None:
    with FakeTradingStream([]) as stream:
        broker = AlpacaBroker(KEY, SECRET, url_override=alpaca.url, stream_url=stream.url)
        broker.on_update(lambda update: None, silence_timeout=0.3, sweep_every=60)
        assert until(lambda: broker.stream is not None and broker.stream.stats.silences >= 5, 10)
        broker.close()
        assert stream.connections == 1, "pings keep a quiet stream open: no login every few seconds"
        assert broker.stream.stats.reconnects == 0


def test_fills_while_the_stream_was_down_are_caught_up_once(alpaca: FakeAlpaca) -> None:
    with FakeTradingStream([]) as stream:
        broker, received, _ = start(alpaca, stream, silence_timeout=0.5)
        assert stream.push(alpaca.fill(COID, 40, "624.48"))
        assert until(lambda: len(received) == 1)
        stream.drop()
        missed = alpaca.fill(COID, 60, "624.49")  # executed while nobody listened: Alpaca does not replay it
        assert not stream.push(missed)
        assert until(lambda: stream.connections == 2)
        assert until(lambda: booked(received)[1] == 100)
        # Alpaca delivering the same execution late, under the stream's id, changes nothing
        stream.push(missed)
        time.sleep(0.3)
        broker.close()
    assert booked(received) == (OrderStatus.FILLED, 100, 100, Decimal("624.486"))
    assert broker.stream is not None
    assert broker.stream.stats.recovered >= 1


def test_a_connected_but_mute_stream_is_found_and_reconnected(alpaca: FakeAlpaca) -> None:
    with FakeTradingStream([]) as stream:
        broker, received, alerts = start(alpaca, stream, silence_timeout=0.3, mute_after=timedelta(0))
        stream.mute = True  # connected, answering pings, delivering nothing (alpaca-py issue #740)
        assert not stream.push(alpaca.fill(COID, 100, "624.50"))
        assert until(lambda: broker.stream is not None and broker.stream.stats.mute >= 1)
        stream.mute = False
        assert until(lambda: stream.connections >= 2), "a mute stream is reconnected"
        broker.close()
    assert booked(received) == (OrderStatus.FILLED, 100, 100, Decimal("624.50"))
    assert any("did not deliver" in alert for alert in alerts)


def test_a_dead_link_is_reopened_within_seconds(alpaca: FakeAlpaca) -> None:
    with FakeTradingStream([]) as stream:
        broker, received, _ = start(alpaca, stream, silence_timeout=0.3, pong_timeout=0.3)
        stream.hang()  # pings go unanswered
        assert until(lambda: stream.connections == 2, 10), "reopened within seconds, not at the OS's TCP timeout"
        assert stream.push(alpaca.fill(COID, 100, "624.50"))
        assert until(lambda: booked(received)[1] == 100)
        broker.close()
    assert broker.stream is not None
    assert broker.stream.stats.dead == 1


def test_a_cancel_missed_while_down_closes_the_order(alpaca: FakeAlpaca) -> None:
    with FakeTradingStream([]) as stream:
        broker, received, _ = start(alpaca, stream, silence_timeout=0.5)
        stream.drop()
        alpaca.orders[COID]["status"] = "canceled"
        alpaca.orders[COID]["updated_at"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        assert until(lambda: any(u.event == "canceled" for u in received))
        broker.close()
    assert booked(received)[0] is OrderStatus.CANCELED


def test_refused_keys_back_off_and_alert(alpaca: FakeAlpaca) -> None:
    with FakeTradingStream([]) as stream:
        broker = AlpacaBroker(KEY, "wrong", url_override=alpaca.url, stream_url=stream.url)
        alerts: list[str] = []
        broker.on_update(lambda update: None, alert=alerts.append)
        assert until(lambda: bool(alerts))
        time.sleep(0.5)
        broker.close()
    assert stream.auth_failures == 1, "a refused login is not retried at once"
    assert "refused" in alerts[0]
    assert "wrong" not in alerts[0]


def test_catch_up_pages_through_activities(alpaca: FakeAlpaca) -> None:
    broker = AlpacaBroker(KEY, SECRET, url_override=alpaca.url)
    broker.submit(order(250))
    t0 = datetime.now(UTC) - timedelta(minutes=10)
    for i in range(250):  # 250 one-share executions: three pages of at most 100
        alpaca.fill(COID, 1, "624.50", at=t0 + timedelta(milliseconds=i))
    stream = AlpacaTradeStream(TradeStreamSettings("ws://unused"), lambda u: None, broker)
    updates = stream.catch_up()
    executions = [u for u in updates if u.execution is not None]
    assert len(executions) == 250
    assert [u.cum_filled_qty for u in executions] == list(range(1, 251))
    pages = [p for m, p in alpaca.requests if p == "/v2/account/activities/FILL"]
    assert len(pages) == 3
    assert stream.catch_up() == [], "nothing is forwarded twice"
