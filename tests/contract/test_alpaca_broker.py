"""AlpacaBroker over real HTTP against a local server speaking Alpaca's REST format, and the
trade_updates normaliser against the recorded message fixtures."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from quantterminal.adapters.broker.alpaca_broker import AlpacaBroker, FractionalQuantity, to_order_update
from quantterminal.core.accounting.account_book import AccountBook
from quantterminal.core.accounting.orders import Order, OrderStatus, OrderType
from quantterminal.core.models import Side
from quantterminal.core.trading.broker import BrokerRejected, BrokerUnavailable, place_order
from tests.fakes.alpaca_server import KEY, SECRET, FakeAlpaca, Fault, position_json

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "alpaca_trade_updates_ws.json"
T0 = datetime(2025, 7, 15, 14, 1, tzinfo=UTC)


@pytest.fixture
def broker(alpaca: FakeAlpaca) -> AlpacaBroker:
    return AlpacaBroker(KEY, SECRET, paper=True, url_override=alpaca.url, timeout=1.0)


def order(coid: str = "qt-momentum-SPY-1", qty: int = 10, limit: str | None = "624.50") -> Order:
    kind = OrderType.LIMIT if limit else OrderType.MARKET
    return Order(coid, "momentum", "SPY", Side.BUY, qty, kind, T0, Decimal("624.48"), Decimal(limit) if limit else None)


def test_submit_lookup_list_and_cancel(broker: AlpacaBroker, alpaca: FakeAlpaca) -> None:
    placed = broker.submit(order())
    assert (placed.client_order_id, placed.symbol, placed.side, placed.qty, placed.limit_price) == (
        "qt-momentum-SPY-1",
        "SPY",
        Side.BUY,
        10,
        Decimal("624.5"),
    )
    assert broker.get_order("qt-momentum-SPY-1") == placed
    assert broker.get_order("nope") is None
    assert [o.client_order_id for o in broker.open_orders()] == ["qt-momentum-SPY-1"]
    broker.cancel("qt-momentum-SPY-1")
    assert alpaca.orders["qt-momentum-SPY-1"]["status"] == "pending_cancel"
    market = broker.submit(order("m-1", limit=None))
    assert market.order_type is OrderType.MARKET


def test_positions_and_account(broker: AlpacaBroker, alpaca: FakeAlpaca) -> None:
    alpaca.positions = [position_json("SPY", 40, "624.48"), position_json("QQQ", -5, "400.1")]
    assert [(p.symbol, p.qty, p.avg_entry_price) for p in broker.positions()] == [
        ("SPY", 40, Decimal("624.48")),
        ("QQQ", -5, Decimal("400.1")),
    ]
    assert broker.account().cash == Decimal("100000")


def test_refusals_are_rejections(broker: AlpacaBroker, alpaca: FakeAlpaca) -> None:
    alpaca.buying_power_limit = 1000
    with pytest.raises(BrokerRejected, match="HTTP 403: insufficient buying power"):
        broker.submit(order())
    assert broker.get_order("qt-momentum-SPY-1") is None


def test_wrong_keys_are_refused_and_never_shown(alpaca: FakeAlpaca) -> None:
    bad = AlpacaBroker(KEY, "wrong", url_override=alpaca.url)
    with pytest.raises(BrokerRejected, match="HTTP 401"):
        bad.account()
    assert "wrong" not in repr(bad)
    with pytest.raises(ValueError, match="APCA_API_KEY_ID"):
        AlpacaBroker.from_env({})


@pytest.mark.parametrize(
    "fault",
    [
        Fault(status=500, process=True),
        Fault(status=503, process=True),
        Fault(stall=2.0, process=True),  # the order lands, the client times out
    ],
    ids=["500-landed", "503-landed", "timeout-landed"],
)
def test_an_ambiguous_submit_that_landed_is_found_not_resent(
    broker: AlpacaBroker, alpaca: FakeAlpaca, fault: Fault
) -> None:
    alpaca.faults.append(fault)
    placed = place_order(broker, order())
    assert placed.client_order_id == "qt-momentum-SPY-1"
    assert len(alpaca.orders) == 1
    assert alpaca.posts() == 1, "looked up by client order id, never posted again"


def test_an_order_landing_after_the_client_gave_up_still_exists_once(broker: AlpacaBroker, alpaca: FakeAlpaca) -> None:
    """The lookup may run before the stalled request lands; the re-submit then meets the broker's
    unique client order id and is answered with the order that landed: one order, whatever the race."""
    alpaca.faults.append(Fault(stall=1.5, process_late=True, status=200))
    placed = place_order(broker, order(), wait=lambda attempt: time.sleep(0.3))
    assert placed.client_order_id == "qt-momentum-SPY-1"
    time.sleep(1.5)  # let the stalled request finish
    assert len(alpaca.orders) == 1


def test_an_ambiguous_submit_raises_unavailable(broker: AlpacaBroker, alpaca: FakeAlpaca) -> None:
    alpaca.faults.append(Fault(status=502))
    with pytest.raises(BrokerUnavailable, match="HTTP 502"):
        broker.submit(order())


def test_rate_limited_then_ok_places_exactly_one_order(broker: AlpacaBroker, alpaca: FakeAlpaca) -> None:
    headers = {"X-RateLimit-Limit": "200", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1752588061"}
    alpaca.faults += [Fault(status=429, headers=headers, body={"message": "too many requests."}) for _ in range(3)]
    placed = place_order(broker, order(), attempts=4)
    assert placed.client_order_id == "qt-momentum-SPY-1"
    assert len(alpaca.orders) == 1


def test_a_post_that_landed_behind_a_504_is_looked_up_never_posted_again(
    broker: AlpacaBroker, alpaca: FakeAlpaca
) -> None:
    # 504 after the order landed: no blind re-POST (alpaca-py's own retry is off); the lookup finds it.
    alpaca.faults.append(Fault(status=504, process=True))
    placed = place_order(broker, order())
    assert placed.client_order_id == "qt-momentum-SPY-1"
    assert alpaca.posts() == 1
    assert len(alpaca.orders) == 1


def test_a_rate_limit_holds_the_next_request_until_its_reset(alpaca: FakeAlpaca) -> None:
    """Alpaca answers 429 with X-RateLimit-Limit/-Remaining/-Reset (Unix seconds) -- docs: "API rate
    limit". The next request waits for the reset (not 4 attempts back to back), and the order is
    looked up by its client order id before it is posted again."""
    now = [1_752_588_000.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    broker = AlpacaBroker(KEY, SECRET, url_override=alpaca.url, timeout=1.0, sleep=sleep, clock=lambda: now[0])
    headers = {"X-RateLimit-Limit": "200", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(now[0]) + 3)}
    alpaca.faults.append(Fault(status=429, headers=headers, body={"message": "too many requests."}))
    placed = place_order(broker, order())
    assert placed.client_order_id == "qt-momentum-SPY-1"
    assert alpaca.posts() == 2  # the 429'd POST did not land; the second did, after a lookup found nothing
    assert len(alpaca.orders) == 1
    assert ("GET", "/v2/orders:by_client_order_id") in alpaca.requests
    assert len(slept) == 1
    assert 3.0 <= slept[0] <= 3.3
    # a server that keeps failing: reads back off, growing, with jitter, then give up as unavailable
    alpaca.faults += [Fault(status=503, method="GET") for _ in range(3)]
    slept.clear()
    with pytest.raises(BrokerUnavailable, match="HTTP 503"):
        broker.open_orders()
    assert len(slept) == 2
    assert all(0 <= s <= 8 for s in slept)


def test_open_orders_are_read_past_alpacas_page_limit(
    broker: AlpacaBroker, alpaca: FakeAlpaca, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GET /v2/orders returns 50 orders unless asked (500 at most): reconciliation must see all."""
    from quantterminal.adapters.broker import alpaca_broker

    for i in range(120):
        placed = alpaca.order_json({"symbol": "SPY", "qty": 1, "type": "limit", "side": "buy", "time_in_force": "day"})
        # three orders share each submit time, so pages end inside a group of equal times
        placed["submitted_at"] = f"2025-07-15T14:{i // 3:02d}:00Z"
        alpaca.orders[placed["client_order_id"]] = placed
    assert len(alpaca.list_orders({})) == 50  # what one plain request returns
    monkeypatch.setattr(alpaca_broker, "OPEN_ORDERS_PAGE", 50)
    listed = broker.open_orders()
    assert len(listed) == 120
    assert len({o.broker_order_id for o in listed}) == 120


def test_fractional_quantities_are_never_truncated(broker: AlpacaBroker, alpaca: FakeAlpaca) -> None:
    alpaca.positions.append(position_json("SPY", 1, "624.10") | {"qty": "1.5", "qty_available": "1.5"})
    (position,) = broker.positions()
    assert position.qty == 0
    assert "position SPY: 1.5 shares is fractional" in position.unreadable


def fixture_messages() -> dict[str, dict[str, object]]:
    data = json.loads(FIXTURES.read_text())
    return {m["name"]: m["frame"] for m in data["messages"]}


@pytest.mark.skipif(not FIXTURES.exists(), reason="shared/fixtures not beside the checkout")
def test_every_trade_update_fixture_normalises() -> None:
    frames = {n: f for n, f in fixture_messages().items() if f.get("stream") == "trade_updates"}  # type: ignore[union-attr]
    assert len(frames) >= 15
    fractional = []
    for name, frame in frames.items():
        try:
            update = to_order_update(frame["data"])  # type: ignore[index]
        except FractionalQuantity as exc:  # a notional (fractional) order: refused, never truncated
            fractional.append((name, str(exc)))
            continue
        assert update.client_order_id, name
        assert update.timestamp.tzinfo is not None, name
        if update.event in ("fill", "partial_fill"):
            assert update.execution is not None, name
    assert len(fractional) == 1
    assert "1790.86 shares is fractional" in fractional[0][1]


@pytest.mark.skipif(not FIXTURES.exists(), reason="shared/fixtures not beside the checkout")
def test_fixture_partial_then_fill_books_the_documented_average() -> None:
    frames = fixture_messages()
    updates = [to_order_update(frames[n]["data"]) for n in ("A_fill", "A_partial_fill", "A_new")]  # type: ignore[index]
    book = AccountBook(Decimal(100_000))
    book.track(updates[0].client_order_id, "SPY", Side.BUY, 100)
    book.apply_all(updates)  # arriving backwards
    state = book.orders[updates[0].client_order_id]
    assert (state.status, state.filled_qty, state.avg_fill_price) == (OrderStatus.FILLED, 100, Decimal("624.486"))


def test_qterm_reconcile_against_alpaca_adopts_its_positions(
    alpaca: FakeAlpaca, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import uuid

    from quantterminal.cli.main import main
    from tests.services import REDIS_URL, check_redis, delete_redis_keys, require

    require("Redis", check_redis)
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    monkeypatch.setenv("APCA_API_BASE_URL", alpaca.url)
    alpaca.positions = [position_json("SPY", 40, "624.48")]
    account = f"acct{uuid.uuid4().hex[:8]}"
    args = ["reconcile", "--account", account, "--redis", REDIS_URL, "--database", f"sqlite:///{tmp_path / 'l.db'}"]
    try:
        assert main(args) == 1
        assert "position SPY: local 0, broker 40" in capsys.readouterr().out
        assert main(args) == 0
        assert "agrees with the broker" in capsys.readouterr().out
    finally:
        delete_redis_keys(f"qt:*{account}*")
    monkeypatch.setenv("APCA_API_SECRET_KEY", "wrong")
    assert main(args) == 2
    assert "HTTP 401" in capsys.readouterr().err


@pytest.mark.skipif(not FIXTURES.exists(), reason="shared/fixtures not beside the checkout")
def test_trade_updates_stream_over_a_real_websocket(alpaca: FakeAlpaca) -> None:
    from tests.fakes.alpaca_stream import FakeTradingStream

    frames = fixture_messages()
    malformed = json.loads(json.dumps(frames["A_partial_fill"]))
    del malformed["data"]["execution_id"]  # type: ignore[index]
    sent = [frames["A_fill"], malformed, frames["A_partial_fill"], frames["A_partial_fill"], frames["A_new"]]
    received: list[object] = []
    with FakeTradingStream(sent) as stream:
        broker = AlpacaBroker(KEY, SECRET, url_override=alpaca.url, stream_url=stream.url)
        broker.on_update(received.append)
        deadline = time.monotonic() + 15
        while len(received) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        broker.close()
    # the malformed update was skipped and the stream went on; the repeated partial fill was
    # forwarded once (the consumer would count it once anyway)
    assert len(received) == 3
    book = AccountBook(Decimal(100_000))
    book.track(received[0].client_order_id, "SPY", Side.BUY, 100)  # type: ignore[attr-defined]
    book.apply_all(received)  # type: ignore[arg-type]
    order = book.orders[received[0].client_order_id]  # type: ignore[attr-defined]
    assert (order.status, order.filled_qty, order.avg_fill_price) == (OrderStatus.FILLED, 100, Decimal("624.486"))


def test_replace_creates_the_new_order_and_retires_the_old(broker: AlpacaBroker, alpaca: FakeAlpaca) -> None:
    broker.submit(order())
    new = broker.replace("qt-momentum-SPY-1", "qt-momentum-SPY-1-r1", 8, Decimal("624.40"))
    assert (new.client_order_id, new.qty, new.limit_price) == ("qt-momentum-SPY-1-r1", 8, Decimal("624.4"))
    assert alpaca.orders["qt-momentum-SPY-1"]["status"] == "replaced"
    assert [o.client_order_id for o in broker.open_orders()] == ["qt-momentum-SPY-1-r1"]
    with pytest.raises(BrokerRejected, match="not open"):
        broker.replace("qt-momentum-SPY-1", "qt-momentum-SPY-1-r2", 8, None)
