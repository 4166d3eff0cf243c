"""Orders beyond market and limit at Alpaca, over real HTTP and the trade_updates websocket: every
type placed natively with its terms, an entry's exit legs as one bracket (or oto) request that
Alpaca then holds, the legs it names itself read back under our names in any process, their
updates booked exactly once (the stop-loss's cancel arrives only by REST, alpaca-py#198), and
Alpaca's refusals passed on with its own words. The fakes follow "Orders at Alpaca" and the
reports cited in tests/fakes/fake_orders.py."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests

from quantterminal.adapters.broker.alpaca_broker import AlpacaBroker
from quantterminal.adapters.broker.alpaca_catch_up import missed_updates
from quantterminal.adapters.broker.alpaca_legs import LegNames
from quantterminal.core.accounting.account_book import AccountBook
from quantterminal.core.accounting.orders import Order, OrderStatus, OrderType, OrderUpdate, TimeInForce
from quantterminal.core.models import Side
from quantterminal.core.trading.broker import BrokerRejected
from tests.contract.test_trade_stream import until
from tests.fakes.alpaca_server import KEY, SECRET, FakeAlpaca, position_json
from tests.fakes.alpaca_stream import FakeTradingStream

T0 = datetime(2025, 7, 15, 14, 1, tzinfo=UTC)
ENTRY = "momentum-SPY-20250715T1401-1"


def broker_for(alpaca: FakeAlpaca, **kwargs: Any) -> AlpacaBroker:
    return AlpacaBroker(KEY, SECRET, paper=True, url_override=alpaca.url, **kwargs)


def entry(coid: str = ENTRY, qty: int = 10, take: str | None = "102.50", loss: str | None = "98.00") -> Order:
    return Order(
        coid,
        "momentum",
        "SPY",
        Side.BUY,
        qty,
        OrderType.LIMIT,
        T0,
        Decimal("100.00"),
        Decimal("100.00"),
        time_in_force=TimeInForce.GTC,
        take_profit=Decimal(take) if take else None,
        stop_loss=Decimal(loss) if loss else None,
    )


def plain(coid: str, kind: OrderType, side: Side = Side.SELL, **terms: Any) -> Order:
    return Order(coid, "momentum", "SPY", side, 5, kind, T0, Decimal("100.00"), **terms)


def test_every_order_type_is_placed_natively_and_read_back_with_its_terms(alpaca: FakeAlpaca) -> None:
    broker = broker_for(alpaca)
    alpaca.mark("SPY", 100.0)
    orders = [
        plain("momentum-SPY-a", OrderType.STOP, stop_price=Decimal("97.50")),
        plain("momentum-SPY-b", OrderType.STOP_LIMIT, stop_price=Decimal("97.50"), limit_price=Decimal("97.25")),
        plain("momentum-SPY-c", OrderType.TRAILING_STOP, trail_bps=Decimal(50), time_in_force=TimeInForce.GTC),
        plain("momentum-SPY-d", OrderType.LIMIT, Side.BUY, limit_price=Decimal("99.90"), time_in_force=TimeInForce.IOC),
    ]
    for order in orders:
        placed = broker.submit(order)
        again = broker.get_order(order.client_order_id)
        assert again is not None
        for read in (placed, again):
            terms = (read.order_type, read.side, read.qty, read.limit_price, read.stop_price, read.trail_bps)
            assert terms == (order.order_type, order.side, 5, order.limit_price, order.stop_price, order.trail_bps)
            assert read.time_in_force is order.time_in_force
    trailing = alpaca.orders["momentum-SPY-c"]
    assert (trailing["type"], trailing["trail_percent"], trailing["time_in_force"]) == ("trailing_stop", "0.5", "gtc")
    assert trailing["stop_price"] == "99.5", "Alpaca's running trigger: 0.5% under the high-water mark"
    alpaca.mark("SPY", 104.0)
    assert alpaca.orders["momentum-SPY-c"]["stop_price"] == "103.48", "it follows the market up"
    assert broker.get_order("momentum-SPY-c").trail_bps == Decimal(50)  # type: ignore[union-attr]


def test_an_entry_with_both_legs_is_one_bracket_request_and_its_legs_get_our_names(alpaca: FakeAlpaca) -> None:
    broker = broker_for(alpaca)
    placed = broker.submit(entry())
    assert alpaca.posts() == 1, "entry and legs in one request: never an unprotected moment between them"
    sent = alpaca.orders[ENTRY]
    assert (sent["order_class"], sent["time_in_force"]) == ("bracket", "gtc")
    assert (placed.take_profit, placed.stop_loss) == (Decimal("102.5"), Decimal("98"))
    legs = {leg.client_order_id: leg for leg in broker.exit_legs(ENTRY)}
    assert set(legs) == {f"{ENTRY}.tp", f"{ENTRY}.sl"}
    take, loss = legs[f"{ENTRY}.tp"], legs[f"{ENTRY}.sl"]
    assert (take.order_type, take.side, take.qty, take.limit_price) == (
        OrderType.LIMIT,
        Side.SELL,
        10,
        Decimal("102.5"),
    )
    assert (loss.order_type, loss.side, loss.qty, loss.stop_price) == (OrderType.STOP, Side.SELL, 10, Decimal("98"))
    assert take.parent == loss.parent == ENTRY
    assert take.strategy == "momentum"
    alpaca_names = {o["client_order_id"] for o in alpaca.orders.values()} - {ENTRY}
    assert all(uuid.UUID(name) for name in alpaca_names), "Alpaca named the legs itself"
    assert {take.broker_order_id, loss.broker_order_id} == {alpaca.orders[n]["id"] for n in alpaca_names}
    assert take.status is OrderStatus.ACCEPTED, "held until the entry fills"
    assert alpaca.posts() == 1, "the legs came with the submit's answer: no extra read"

    broker.submit(entry("momentum-SPY-one-leg", take=None))
    one = alpaca.orders["momentum-SPY-one-leg"]
    assert one["order_class"] == "oto", "one leg is one-triggers-other (Alpaca refuses a bracket with one)"
    assert [leg.client_order_id for leg in broker.exit_legs("momentum-SPY-one-leg")] == ["momentum-SPY-one-leg.sl"]


def test_a_process_that_did_not_place_the_entry_names_its_legs(alpaca: FakeAlpaca) -> None:
    broker_for(alpaca).submit(entry())
    fresh = broker_for(alpaca)  # another Lambda, or the feed task: nothing learnt from the submit
    listed = {o.client_order_id: o for o in fresh.open_orders()}
    assert set(listed) == {ENTRY, f"{ENTRY}.tp", f"{ENTRY}.sl"}
    assert listed[f"{ENTRY}.sl"].parent == ENTRY
    assert listed[f"{ENTRY}.sl"].strategy == "momentum", "never the first block of Alpaca's UUID"
    other = broker_for(alpaca)
    leg = other.get_order(f"{ENTRY}.sl")
    assert leg is not None
    assert leg.stop_price == Decimal("98")
    assert other.get_order(f"{ENTRY}.xx") is None
    assert other.get_order("momentum-SPY-none.tp") is None
    assert {leg.client_order_id for leg in broker_for(alpaca).exit_legs(ENTRY)} == {f"{ENTRY}.tp", f"{ENTRY}.sl"}
    broker_for(alpaca).cancel(f"{ENTRY}.tp")
    canceled = [o for o in alpaca.orders.values() if o["type"] == "limit" and o["client_order_id"] != ENTRY]
    assert canceled[0]["status"] == "pending_cancel"


@pytest.mark.parametrize(
    ("order", "mark", "says"),
    [
        (entry(take="99.50"), None, "take_profit.limit_price must be >= base_price + 0.01"),
        (entry(loss="100.00"), None, "stop_loss.stop_price must be <= base_price - 0.01"),
        (entry(take="102.505"), None, "sub-penny increment does not fulfill minimum pricing criteria"),
        (plain("momentum-SPY-s", OrderType.STOP, stop_price=Decimal("101")), 100.0, "must be below the current price"),
        (
            plain("momentum-SPY-t", OrderType.TRAILING_STOP, trail_bps=Decimal(50), time_in_force=TimeInForce.IOC),
            None,
            "trailing stop orders must be day or gtc",
        ),
    ],
)
def test_alpacas_refusals_are_passed_on_in_its_words_and_nothing_is_placed(
    alpaca: FakeAlpaca, order: Order, mark: float | None, says: str
) -> None:
    if mark is not None:
        alpaca.mark("SPY", mark)
    with pytest.raises(BrokerRejected, match="HTTP 422") as refused:
        broker_for(alpaca).submit(order)
    assert says in str(refused.value)
    assert alpaca.orders == {}


def test_the_fake_holds_alpacas_other_documented_rules(alpaca: FakeAlpaca) -> None:
    def post(body: dict[str, Any]) -> requests.Response:
        headers = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
        base = {
            "symbol": "SPY",
            "qty": "10",
            "side": "buy",
            "type": "limit",
            "limit_price": "100",
            "time_in_force": "day",
        }
        return requests.post(f"{alpaca.url}/v2/orders", json={**base, **body}, headers=headers, timeout=5)

    legs = {"take_profit": {"limit_price": "102"}, "stop_loss": {"stop_price": "98"}}
    ignored = post({"client_order_id": "no-class", **legs})
    assert ignored.status_code == 200
    assert alpaca.legs_of == {}, "legs without an order_class are ignored, a plain order placed (go#181, js#247)"
    assert "stop_loss.stop_price" in post({"order_class": "bracket", "take_profit": {"limit_price": "102"}}).text
    assert "must be DAY limit" in post({"order_class": "bracket", "extended_hours": True, **legs}).text
    alpaca.positions = [position_json("SPY", 10, "100")]
    assert "must be entry orders" in post({"order_class": "bracket", "side": "sell", **legs}).text


def booked(received: list[OrderUpdate], names: dict[str, Side]) -> AccountBook:
    book = AccountBook(Decimal(100_000))
    for coid, side in names.items():
        book.track(coid, "SPY", side, 10)
    book.apply_all(received)
    return book


@pytest.mark.parametrize("exit_by", ["take_profit", "stop_loss"])
def test_leg_updates_are_booked_once_under_our_names_from_the_stream_and_rest(alpaca: FakeAlpaca, exit_by: str) -> None:
    with FakeTradingStream([]) as stream:
        placing = broker_for(alpaca)
        placing.submit(entry())
        listening = broker_for(alpaca, stream_url=stream.url)  # the feed task: it did not place the entry
        received: list[OrderUpdate] = []
        listening.on_update(received.append, backoff_base=0.05, backoff_cap=0.2, sweep_every=3600, silence_timeout=0.5)
        assert until(lambda: listening.stream is not None and listening.stream.stats.catch_ups >= 1)
        assert stream.push(alpaca.fill(ENTRY, 10, "100.00"))
        for notice in alpaca.notices:  # the take-profit starts working
            assert stream.push(notice)
        legs = {alpaca.orders[n]["type"]: n for n in alpaca.legs_of[ENTRY]}
        leg_fill = alpaca.fill(legs["limit" if exit_by == "take_profit" else "stop"], 10, "102.50")
        leg_name = f"{ENTRY}.tp" if exit_by == "take_profit" else f"{ENTRY}.sl"
        assert stream.push(leg_fill)
        assert stream.push(leg_fill), "delivered twice: counted once"
        for notice in alpaca.notices[1:]:
            assert stream.push(notice)
        assert until(lambda: {u.client_order_id for u in received if u.execution} == {ENTRY, leg_name})
        assert listening.stream is not None
        listening.stream.catch_up()  # the REST read after a sweep: the stop-loss's cancel was never streamed
        listening.close()
    names = {ENTRY: Side.BUY, f"{ENTRY}.tp": Side.SELL, f"{ENTRY}.sl": Side.SELL}
    assert {u.client_order_id for u in received} <= set(names), "every update under our names"
    book = booked(received, names)
    filled, other = (".tp", ".sl") if exit_by == "take_profit" else (".sl", ".tp")
    assert book.orders[ENTRY].executed_qty == book.orders[ENTRY + filled].executed_qty == 10
    assert book.orders[ENTRY + filled].status is OrderStatus.FILLED
    ended = OrderStatus.CANCELED if exit_by == "take_profit" else OrderStatus.REPLACED
    assert book.orders[ENTRY + other].status is ended
    assert book.orders[ENTRY + other].executed_qty == 0
    assert book.portfolio.qty("SPY") == 0
    assert book.portfolio.cash == Decimal(100_000) + (Decimal("102.50") - Decimal("100.00")) * 10


def test_a_days_old_brackets_leg_fill_and_its_siblings_cancel_come_back_by_rest_alone(alpaca: FakeAlpaca) -> None:
    broker_for(alpaca).submit(entry())
    three_days_ago = (datetime.now(UTC) - timedelta(days=3)).isoformat().replace("+00:00", "Z")
    for coid in (ENTRY, *alpaca.legs_of[ENTRY]):  # placed gtc three days ago, beyond the order listing's reach
        alpaca.orders[coid]["submitted_at"] = alpaca.orders[coid]["created_at"] = three_days_ago
    alpaca.fill(ENTRY, 10, "100.00", at=datetime.now(UTC) - timedelta(days=3))
    legs = {alpaca.orders[n]["type"]: n for n in alpaca.legs_of[ENTRY]}
    alpaca.fill(legs["limit"], 10, "102.50")  # today, while the stream was down
    fresh = broker_for(alpaca)  # a restarted feed task: it knows nothing of the bracket
    received = missed_updates(fresh, datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC))
    assert [(u.client_order_id, u.event, u.cum_filled_qty) for u in received if u.execution] == [
        (f"{ENTRY}.tp", "fill", 10)
    ]
    assert (f"{ENTRY}.sl", "canceled") in {(u.client_order_id, u.event) for u in received}
    assert {u.client_order_id for u in received} <= {ENTRY, f"{ENTRY}.tp", f"{ENTRY}.sl"}


def test_leg_names_are_bounded_and_a_forgotten_one_is_learnt_again(alpaca: FakeAlpaca) -> None:
    names = LegNames(remembered=4)
    for i in range(3):
        legs = [{"id": f"tp{i}", "type": "limit"}, {"id": f"sl{i}", "type": "stop"}]
        names.learn({"client_order_id": f"e{i}", "legs": legs})
    assert names.of({"id": "tp0"}) is None
    assert names.alpaca_id("e0.tp") is None
    assert names.of({"id": "sl2"}) == ("e2.sl", "e2")
    broker = broker_for(alpaca)
    broker.submit(entry())
    broker.legs = LegNames(remembered=2)  # everything forgotten: the leg is found through its entry again
    leg = broker.get_order(f"{ENTRY}.tp")
    assert leg is not None
    assert leg.limit_price == Decimal("102.5")


PROTECT = "momentum-SPY-20250715T1405-protect-1"


def oco_exit(coid: str = PROTECT, qty: int = 10, loss: str = "98.00") -> Order:
    """The kernel's one-cancels-other exit of a held long: a take-profit at 102.50, a stop-loss at ``loss``."""
    return Order(
        coid, "momentum", "SPY", Side.SELL, qty, OrderType.LIMIT, T0, Decimal("100.00"), Decimal("102.50"),
        time_in_force=TimeInForce.GTC, stop_loss=Decimal(loss), oco=True,
    )  # fmt: skip


@pytest.mark.parametrize("exit_by", ["take_profit", "stop_loss"])
def test_a_held_positions_exit_is_one_oco_request_whose_first_fill_ends_the_other(
    alpaca: FakeAlpaca, exit_by: str
) -> None:
    """A position no bracket protects (a stop entry's, a reversal's) gets its take-profit and
    stop-loss as Alpaca's ``oco`` class: the order is the take-profit limit, its one leg (named by
    Alpaca, read back as ``<id>.sl``) the stop-loss; whichever fills first ends the other."""
    alpaca.positions = [position_json("SPY", 10, "100.00")]
    alpaca.mark("SPY", 100.0)
    broker = broker_for(alpaca)
    with pytest.raises(BrokerRejected, match="oco orders must be exit orders"):
        broker.submit(oco_exit("momentum-SPY-too-many", qty=20))
    with pytest.raises(BrokerRejected, match=r"stop_loss\.stop_price must be < current price 100\.0"):
        broker.submit(oco_exit("momentum-SPY-crossed", loss="100.50"))
    placed = broker.submit(oco_exit())
    sent = alpaca.orders[PROTECT]
    assert (sent["order_class"], sent["type"], sent["limit_price"], sent["time_in_force"]) == (
        "oco",
        "limit",
        "102.5",
        "gtc",
    )
    assert placed.oco
    assert (placed.limit_price, placed.stop_loss, placed.take_profit) == (Decimal("102.5"), Decimal("98"), None)
    (leg,) = broker.exit_legs(PROTECT)
    assert (leg.client_order_id, leg.order_type, leg.side, leg.qty, leg.stop_price, leg.parent) == (
        f"{PROTECT}.sl",
        OrderType.STOP,
        Side.SELL,
        10,
        Decimal("98"),
        PROTECT,
    )
    assert not leg.oco
    since = datetime.now(UTC) - timedelta(minutes=5)
    if exit_by == "take_profit":
        alpaca.fill(PROTECT, 10, "102.50")
    else:
        alpaca.fill(alpaca.legs_of[PROTECT][0], 10, "98.00")
    received = missed_updates(broker_for(alpaca), since, datetime.now(UTC) + timedelta(minutes=1))
    ends = {(u.client_order_id, u.event) for u in received}
    filled, other, ended = (
        (PROTECT, f"{PROTECT}.sl", "canceled") if exit_by == "take_profit" else (f"{PROTECT}.sl", PROTECT, "replaced")
    )
    assert (filled, "fill") in ends
    assert (other, ended) in ends
    assert [u.client_order_id for u in received if u.execution] == [filled], "one fill, under our name"
