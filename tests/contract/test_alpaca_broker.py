"""AlpacaBroker over real HTTP against a local server speaking Alpaca's REST format, and the
trade_updates normaliser against the recorded message fixtures."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from quantterminal.adapters.broker.alpaca_broker import AlpacaBroker, to_order_update
from quantterminal.core.models import Side
from quantterminal.core.trading.broker import BrokerRejected, BrokerUnavailable, place_order
from quantterminal.core.trading.order_state import AccountBook, OrderStatus
from quantterminal.core.trading.orders import OrderRequest, OrderType
from tests.fakes.alpaca_server import KEY, SECRET, FakeAlpaca, Fault, position_json

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "alpaca_trade_updates_ws.json"
T0 = datetime(2025, 7, 15, 14, 1, tzinfo=UTC)


@pytest.fixture
def alpaca() -> Iterator[FakeAlpaca]:
    with FakeAlpaca() as server:
        yield server


@pytest.fixture
def broker(alpaca: FakeAlpaca) -> AlpacaBroker:
    return AlpacaBroker(KEY, SECRET, paper=True, url_override=alpaca.url, timeout=1.0)


def order(coid: str = "qt-momentum-SPY-1", qty: int = 10, limit: str | None = "624.50") -> OrderRequest:
    kind = OrderType.LIMIT if limit else OrderType.MARKET
    return OrderRequest(
        coid, "momentum", "SPY", Side.BUY, qty, kind, T0, Decimal("624.48"), Decimal(limit) if limit else None
    )


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
    assert market.order_type == "market"


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


def test_alpaca_py_retrying_a_post_that_landed_is_answered_with_the_existing_order(
    broker: AlpacaBroker, alpaca: FakeAlpaca
) -> None:
    # 504 after the order landed: alpaca-py re-POSTs by itself and gets 422 "must be unique".
    alpaca.faults.append(Fault(status=504, process=True))
    placed = broker.submit(order())
    assert placed.client_order_id == "qt-momentum-SPY-1"
    assert alpaca.posts() == 2
    assert len(alpaca.orders) == 1


def fixture_messages() -> dict[str, dict[str, object]]:
    data = json.loads(FIXTURES.read_text())
    return {m["name"]: m["frame"] for m in data["messages"]}


@pytest.mark.skipif(not FIXTURES.exists(), reason="shared/fixtures not beside the checkout")
def test_every_trade_update_fixture_normalises() -> None:
    frames = {n: f for n, f in fixture_messages().items() if f.get("stream") == "trade_updates"}  # type: ignore[union-attr]
    assert len(frames) >= 15
    for name, frame in frames.items():
        update = to_order_update(frame["data"])  # type: ignore[index]
        assert update.client_order_id, name
        assert update.timestamp.tzinfo is not None, name
        if update.event in ("fill", "partial_fill"):
            assert update.execution is not None, name


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
        while len(received) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        broker.close()
    assert len(received) == 4, "the malformed update was skipped; the stream went on"
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
