"""The simulated broker's fill rules, refusals and chaos, and placing an order exactly once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantterminal.adapters.broker.simulated_broker import SimulatedBroker, SimulatorConfig
from quantterminal.core.accounting.account_book import AccountBook
from quantterminal.core.accounting.orders import Order, OrderStatus, OrderType, OrderUpdate
from quantterminal.core.models import Bar, Side
from quantterminal.core.simulation.fill_model import FillModel
from quantterminal.core.trading.broker import BrokerRejected, BrokerUnavailable, place_order

D = Decimal
T0 = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)


def bar(i: int, o: float, h: float, lo: float, c: float, volume: int = 10_000, symbol: str = "SPY") -> Bar:
    return Bar(symbol, T0 + timedelta(minutes=i), o, h, lo, c, volume)


def order(
    coid: str = "o1", side: Side = Side.BUY, qty: int = 100, limit: str | None = None, symbol: str = "SPY"
) -> Order:
    kind = OrderType.MARKET if limit is None else OrderType.LIMIT
    return Order(coid, "momentum", symbol, side, qty, kind, T0, D("100"), None if limit is None else D(limit))


def connected(broker: SimulatedBroker) -> tuple[AccountBook, list[OrderUpdate]]:
    book = AccountBook(broker.config.initial_cash)
    seen: list[OrderUpdate] = []

    def handle(update: OrderUpdate) -> None:
        seen.append(update)
        book.apply(update)

    broker.on_update(handle)
    return book, seen


def test_market_order_fills_at_the_next_bar_open() -> None:
    broker = SimulatedBroker(start=T0)
    book, seen = connected(broker)
    broker.on_bar(bar(0, 100, 101, 99, 100.5))  # the decision bar
    placed = broker.submit(order())
    book.track(placed.client_order_id, "SPY", Side.BUY, 100)
    broker.on_bar(bar(1, 100.6, 101, 100, 100.8))
    assert [u.event for u in seen] == ["new", "fill"]
    assert book.orders["o1"].status is OrderStatus.FILLED
    assert book.orders["o1"].avg_fill_price == D("100.6")
    assert broker.account().cash == D(100_000) - D("10060.0")
    assert broker.positions()[0].qty == 100


def test_partial_fills_follow_volume_participation() -> None:
    broker = SimulatedBroker(SimulatorConfig(fills=FillModel(participation=0.1)), start=T0)
    book, seen = connected(broker)
    broker.submit(order(qty=250))
    book.track("o1", "SPY", Side.BUY, 250)
    for i in range(3):
        broker.on_bar(bar(i + 1, 100, 100, 100, 100, volume=1000))  # 100 shares a bar at most
    assert [(u.event, u.cum_filled_qty) for u in seen if u.execution] == [
        ("partial_fill", 100),
        ("partial_fill", 200),
        ("fill", 250),
    ]
    assert book.portfolio.position("SPY").qty == 250


def test_limit_orders_fill_only_when_the_price_is_reached() -> None:
    broker = SimulatedBroker(SimulatorConfig(refuse_wash_trades=False), start=T0)  # both sides at once
    book, _ = connected(broker)
    broker.submit(order("buy", limit="99.50"))
    broker.submit(order("sell", side=Side.SELL, qty=10, limit="101.00"))
    for coid, side, qty in (("buy", Side.BUY, 100), ("sell", Side.SELL, 10)):
        book.track(coid, "SPY", side, qty)
    broker.on_bar(bar(1, 100.0, 100.8, 99.7, 100.2))  # neither reached
    assert broker.fills == []
    broker.on_bar(bar(2, 99.8, 101.2, 99.4, 101.0))
    prices = {f.order_id: f.price for f in broker.fills}
    assert prices == {"buy": D("99.50"), "sell": D("101.00")}
    broker.on_bar(bar(3, 102.0, 102.5, 101.5, 102.0))
    assert len(broker.fills) == 2


def test_refusals_insufficient_buying_power_and_duplicate_ids() -> None:
    broker = SimulatedBroker(SimulatorConfig(initial_cash=D(5000)), start=T0)
    with pytest.raises(BrokerRejected, match="insufficient buying power"):
        broker.submit(order(qty=100))  # 10,000 at the decision price
    broker.submit(order(qty=30))
    with pytest.raises(BrokerRejected, match="insufficient buying power"):
        broker.submit(order("o2", qty=30))  # 3,000 already committed to o1
    with pytest.raises(BrokerRejected, match="client_order_id must be unique"):
        broker.submit(order(qty=1))


def test_cancel_of_a_working_order_and_of_a_finished_one() -> None:
    broker = SimulatedBroker(start=T0)
    book, seen = connected(broker)
    broker.submit(order(limit="90"))
    book.track("o1", "SPY", Side.BUY, 100)
    broker.cancel("o1")
    broker.flush()
    assert book.orders["o1"].status is OrderStatus.CANCELED
    broker.cancel("o1")
    broker.flush()
    assert seen[-1].event == "order_cancel_rejected"
    assert broker.open_orders() == []


@settings(max_examples=20)
@given(st.integers(0, 10_000))
def test_chaotic_updates_still_add_up_to_the_brokers_truth(seed: int) -> None:
    config = SimulatorConfig(chaos=True, seed=seed, fills=FillModel(participation=0.05), refuse_wash_trades=False)
    broker = SimulatedBroker(config, start=T0)
    book, _ = connected(broker)
    sides = [Side.BUY, Side.SELL, Side.BUY, Side.BUY, Side.SELL]
    for n, side in enumerate(sides):
        broker.submit(order(f"o{n}", side=side, qty=40 + 17 * n, limit=None if n % 2 else "101"))
        book.track(f"o{n}", "SPY", side, 40 + 17 * n)
        broker.on_bar(bar(n + 1, 100 + n * 0.1, 101 + n * 0.1, 99, 100.5, volume=600))
    for i in range(10):
        broker.on_bar(bar(10 + i, 100, 101, 99, 100, volume=600))
    broker.flush()
    truth = {p.symbol: p.qty for p in broker.positions()}
    assert {s: p.qty for s, p in book.portfolio.positions.items() if p.qty} == truth
    assert book.portfolio.cash == broker.account().cash
    for n in range(len(sides)):
        assert book.orders[f"o{n}"].filled_qty == broker.get_order(f"o{n}").filled_qty  # type: ignore[union-attr]


def test_chaos_mode_really_duplicates_and_reorders() -> None:
    broker = SimulatedBroker(SimulatorConfig(chaos=True, seed=3, fills=FillModel(participation=0.01)), start=T0)
    book, seen = connected(broker)
    book.track("o1", "SPY", Side.BUY, 50)
    broker.submit(order(qty=50))
    for i in range(10):
        broker.on_bar(bar(i + 1, 100, 101, 99, 100, volume=500))
    broker.flush()
    assert len(seen) > len(set(seen)), "some updates were delivered twice"
    stamps = [u.timestamp for u in seen]
    assert stamps != sorted(stamps), "some updates arrived out of order"
    assert book.orders["o1"].filled_qty == 50


def test_place_order_resolves_a_lost_response_by_lookup_never_posting_twice() -> None:
    broker = SimulatedBroker(start=T0)
    broker.fail_next_submits(True)  # lands, but the response is lost
    placed = place_order(broker, order())
    assert placed.client_order_id == "o1"
    assert len(broker.open_orders()) == 1

    broker.fail_next_submits(False, False)  # two timeouts before reaching the broker, then fine
    assert place_order(broker, order("o2", qty=1)).client_order_id == "o2"
    assert len(broker.open_orders()) == 2

    broker.fail_next_submits(False, False, False, False)
    with pytest.raises(BrokerUnavailable):
        place_order(broker, order("o3", qty=1), attempts=4)
    assert broker.get_order("o3") is None
    with pytest.raises(BrokerRejected):
        place_order(broker, order("o4", qty=100_000))


def test_replace_retires_the_old_order_and_works_the_new_one() -> None:
    broker = SimulatedBroker(start=T0)
    book, _ = connected(broker)
    broker.submit(order(limit="95"))
    book.track("o1", "SPY", Side.BUY, 100)
    new = broker.replace("o1", "o1-r1", 60, D("100.50"))
    book.track("o1-r1", "SPY", Side.BUY, 60)
    broker.on_bar(bar(1, 100.2, 100.6, 100.0, 100.4))
    broker.flush()
    assert new.client_order_id == "o1-r1"
    assert book.orders["o1"].status is OrderStatus.REPLACED
    assert book.orders["o1-r1"].status is OrderStatus.FILLED
    assert book.portfolio.position("SPY").qty == 60
    with pytest.raises(BrokerRejected, match="cannot be replaced"):
        broker.replace("o1", "o1-r2", 10, None)


class DictJournal:
    """A journal kept in a plain attribute (what Redis holds for a paper run)."""

    def __init__(self) -> None:
        self.document: str | None = None

    def load(self) -> str | None:
        return self.document

    def save(self, document: str) -> None:
        self.document = document


def test_a_restarted_paper_account_keeps_its_orders_positions_cash_and_ids() -> None:
    # Given an account with a filled order and a working limit order, saved in a journal
    journal = DictJournal()
    broker = SimulatedBroker(SimulatorConfig(fills=FillModel(participation=0.01)), start=T0, journal=journal)
    broker.on_update(lambda update: None)
    broker.on_bar(bar(0, 100, 101, 99, 100))
    broker.submit(order("filled", qty=50))
    broker.on_bar(bar(1, 100, 101, 99, 100, volume=100_000))
    broker.submit(order("resting", qty=300, limit="90"))
    before = (broker.account(), broker.positions(), broker.open_orders(), broker.get_order("filled"))
    # When the process dies and a new broker starts on the same journal
    again = SimulatedBroker(SimulatorConfig(fills=FillModel(participation=0.01)), journal=journal)
    assert again.restored
    # Then it is the same account: orders, positions, cash, and a known client order id is refused
    assert (again.account(), again.positions(), again.open_orders(), again.get_order("filled")) == before
    with pytest.raises(BrokerRejected, match="unique"):
        again.submit(order("filled", qty=50))
    # And executions after the restart get ids never used before it
    seen: list[OrderUpdate] = []
    again.on_update(seen.append)
    for i in range(2, 6):
        again.on_bar(bar(i, 90, 91, 89, 90, volume=10_000))
    ids = [f.execution_id for f in again.fills]
    first_ids = {f.execution_id for f in broker.fills}
    assert ids
    assert not first_ids & set(ids)
    assert len(set(ids)) == len(ids)
    assert all(i.startswith("sim-resting-") for i in ids)
    assert {u.execution.execution_id for u in seen if u.execution} == first_ids | set(ids)  # + one redelivery


def test_updates_handed_over_but_not_confirmed_are_delivered_again_after_a_restart() -> None:
    journal = DictJournal()
    broker = SimulatedBroker(start=T0, journal=journal)
    seen: list[OrderUpdate] = []
    broker.on_update(seen.append)
    broker.on_bar(bar(0, 100, 101, 99, 100))
    broker.submit(order("o1", qty=10))
    broker.on_bar(bar(1, 100, 101, 99, 100))
    assert [u.event for u in seen] == ["new", "fill"]
    # the process dies before the books confirmed them (no checkpoint): both come again
    again = SimulatedBroker(journal=journal)
    redelivered: list[OrderUpdate] = []
    again.on_update(redelivered.append)
    again.advance(again.now)
    assert redelivered == seen
    # once confirmed, a restart repeats nothing
    again.checkpoint()
    third = SimulatedBroker(journal=journal)
    nothing: list[OrderUpdate] = []
    third.on_update(nothing.append)
    third.advance(third.now)
    assert nothing == []


def test_an_order_opposite_to_a_working_one_is_refused_as_alpaca_does() -> None:
    """Alpaca rejects an order on the other side of one of the account's own working orders in the
    same symbol ("potential wash trade detected. use complex orders", HTTP 403; docs: "Orders --
    wash trade prevention"); the same side, or another symbol, is fine."""
    broker = SimulatedBroker(start=T0)
    broker.submit(order("buy-spy", limit="99.00"))
    with pytest.raises(BrokerRejected, match="potential wash trade detected"):
        broker.submit(order("sell-spy", side=Side.SELL, qty=10, limit="101.00"))
    broker.submit(order("buy-more", qty=10, limit="98.00"))
    broker.submit(order("sell-qqq", side=Side.SELL, qty=10, limit="101.00", symbol="QQQ"))
    broker.cancel("buy-spy")
    broker.cancel("buy-more")
    broker.submit(order("sell-spy-later", side=Side.SELL, qty=10, limit="101.00"))
