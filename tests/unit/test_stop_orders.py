"""Stops, stop-limits, trailing stops, exit legs and time in force at the simulated venue: one
rule set (``core.simulation.fill_model``), checked here against a table computed by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from quantterminal.adapters.broker.simulated_broker import SimulatedBroker, SimulatorConfig
from quantterminal.core.accounting.orders import Order, OrderType, OrderUpdate, TimeInForce
from quantterminal.core.models import Bar, Side
from quantterminal.core.simulation.execution import BpsSlippage
from quantterminal.core.simulation.fill_model import FillModel, trailing_stop
from quantterminal.core.trading.broker import BrokerRejected
from tests.unit.test_simulated_broker import DictJournal

D = Decimal
T0 = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)  # a Monday, 09:30 New York
EXACT = FillModel(participation=None)  # no slippage, no commission, any size


def bar(i: int, o: float, h: float, lo: float, c: float, volume: int = 1_000_000) -> Bar:
    return Bar("SPY", T0 + timedelta(minutes=i), o, h, lo, c, volume)


ONE = bar(1, 100, 101, 99, 100.5)  # the bar every row of the table is worked on

# (side, type, stop, limit) -> the fill price on ONE (None: no fill), worked out by hand
TABLE = [
    (Side.SELL, OrderType.STOP, "99.50", None, "99.50"),  # reached at 99.50 from above
    (Side.SELL, OrderType.STOP, "100.50", None, "100"),  # the bar opened below it: the open
    (Side.SELL, OrderType.STOP, "98.90", None, None),  # the low (99) never reached it
    (Side.BUY, OrderType.STOP, "100.80", None, "100.80"),
    (Side.BUY, OrderType.STOP, "99.80", None, "100"),  # opened above it: the open
    (Side.BUY, OrderType.STOP, "101.10", None, None),
    (Side.SELL, OrderType.STOP_LIMIT, "99.50", "99.40", "99.50"),  # triggered at 99.50, above the limit
    (Side.SELL, OrderType.STOP_LIMIT, "99.50", "99.70", "99.70"),  # triggered below its limit: the limit, reached
    (Side.SELL, OrderType.STOP_LIMIT, "100.50", "101.50", None),  # triggered at the open; 101.50 never traded
    (Side.BUY, OrderType.STOP_LIMIT, "100.80", "101.50", "100.80"),
    (Side.BUY, OrderType.STOP_LIMIT, "99.80", "99.90", "99.90"),  # gapped over the limit, came back to it
    (Side.BUY, OrderType.LIMIT, None, "99.50", "99.50"),
    (Side.BUY, OrderType.LIMIT, None, "100.20", "100"),
    (Side.SELL, OrderType.LIMIT, None, "101.20", None),
    (Side.BUY, OrderType.MARKET, None, None, "100"),
]


@pytest.mark.parametrize(("side", "kind", "stop", "limit", "price"), TABLE)
def test_the_fill_rules_give_the_hand_computed_price(
    side: Side, kind: OrderType, stop: str | None, limit: str | None, price: str | None
) -> None:
    done = EXACT.fill(side, kind, None if limit is None else D(limit), 10, ONE, None if stop is None else D(stop))
    assert (None if done is None else done.price) == (None if price is None else D(price))


def test_a_triggered_stop_is_a_market_order_and_pays_slippage() -> None:
    model = FillModel(slippage=BpsSlippage(D(10)), participation=None)
    done = model.fill(Side.SELL, OrderType.STOP, None, 10, ONE, D("99.50"))
    assert done is not None
    assert done.price == D("99.40")


def test_a_trailing_stops_level_is_rounded_to_the_cent() -> None:
    assert trailing_stop(Side.SELL, D("102"), D(100)) == D("100.98")
    assert trailing_stop(Side.BUY, D("98.765"), D(50)) == D("99.26")  # 99.258825 -> 99.26


def venue(**config: object) -> tuple[SimulatedBroker, list[OrderUpdate]]:
    broker = SimulatedBroker(SimulatorConfig(fills=EXACT, **config), start=T0)  # type: ignore[arg-type]
    seen: list[OrderUpdate] = []
    broker.on_update(seen.append)
    broker.on_bar(bar(0, 100, 100.5, 99.5, 100))  # the decision bar: the last price is 100
    return broker, seen


def entry(coid: str = "e1", side: Side = Side.BUY, **terms: object) -> Order:
    return Order(coid, "s", "SPY", side, 10, OrderType.MARKET, T0, D(100), **terms)  # type: ignore[arg-type]


def events(seen: list[OrderUpdate]) -> list[tuple[str, str]]:
    return [(u.client_order_id, u.event) for u in seen]


def test_a_bracket_whose_legs_are_both_reached_in_one_bar_takes_the_stop() -> None:
    broker, seen = venue()
    broker.submit(entry(take_profit=D(101), stop_loss=D(99)))
    broker.on_bar(bar(1, 100.2, 100.8, 99.8, 100.5))  # the entry fills at the open; legs wait for the next bar
    broker.on_bar(bar(2, 100.5, 101.5, 98.5, 101))  # both legs reachable
    assert events(seen) == [
        ("e1", "new"),
        ("e1", "fill"),
        ("e1.sl", "new"),
        ("e1.tp", "new"),
        ("e1.sl", "fill"),
        ("e1.tp", "canceled"),
    ]
    assert [(f.order_id, f.side, f.qty, f.price) for f in broker.fills] == [
        ("e1", Side.BUY, 10, D("100.2")),
        ("e1.sl", Side.SELL, 10, D(99)),
    ]
    assert broker.positions() == []


def test_a_take_profit_cancels_the_stop_and_a_gap_fills_the_stop_at_the_open() -> None:
    broker, seen = venue()
    broker.submit(entry(take_profit=D(101), stop_loss=D(99)))
    broker.on_bar(bar(1, 100.2, 100.8, 99.8, 100.5))
    broker.on_bar(bar(2, 100.5, 101.2, 100, 101))
    assert events(seen)[-2:] == [("e1.tp", "fill"), ("e1.sl", "canceled")]
    assert broker.fills[-1].price == D(101)
    # a short bracket, gapped through its stop: filled at the open, not at the stop nobody traded at
    broker.submit(entry("e2", Side.SELL, take_profit=D(99), stop_loss=D("101.50")))
    broker.on_bar(bar(3, 101, 101.2, 100.8, 101))
    broker.on_bar(bar(4, 102, 102.5, 101.8, 102))
    assert broker.fills[-1].order_id == "e2.sl"
    assert broker.fills[-1].price == D(102)


def test_legs_work_for_what_an_entry_canceled_part_way_filled() -> None:
    broker, seen = venue()
    broker = SimulatedBroker(SimulatorConfig(fills=FillModel(participation=0.5)), start=T0)
    broker.on_update(seen.append)
    broker.on_bar(bar(0, 100, 100.5, 99.5, 100))
    broker.submit(replace(entry(take_profit=D(101), stop_loss=D(99)), qty=30))
    broker.on_bar(bar(1, 100.2, 100.8, 99.8, 100.5, volume=20))  # 10 of 30 filled
    broker.cancel("e1")
    assert broker.get_order("e1.sl").qty == 10  # type: ignore[union-attr]
    broker.on_bar(bar(2, 99.5, 99.6, 98, 98.5, volume=1_000))
    assert [(f.order_id, f.qty) for f in broker.fills] == [("e1", 10), ("e1.sl", 10)]
    assert broker.positions() == []
    # an entry canceled before any fill takes its legs with it
    broker.submit(entry("e2", take_profit=D(101), stop_loss=D(97)))
    broker.cancel("e2")
    assert {o.client_order_id for o in broker.open_orders()} == set()


def test_a_trailing_stop_follows_the_highs_and_is_checked_before_it_moves() -> None:
    broker, _ = venue()
    broker.submit(entry())
    broker.on_bar(bar(1, 100, 100.2, 99.9, 100))
    trail = Order("t1", "s", "SPY", Side.SELL, 10, OrderType.TRAILING_STOP, T0, D(100), trail_bps=D(100))
    broker.submit(trail)  # best so far: the last price, 100 -> stop 99.00
    broker.on_bar(bar(2, 100, 102, 99.5, 101.5))  # low 99.50 above 99.00; the best becomes 102
    assert len(broker.fills) == 1
    broker.on_bar(bar(3, 101.5, 101.6, 100.5, 100.7))  # stop now 100.98: reached
    assert (broker.fills[-1].order_id, broker.fills[-1].price) == ("t1", D("100.98"))


def test_time_in_force_day_expires_at_the_close_ioc_after_one_bar_gtc_carries_on() -> None:
    broker, seen = venue()
    for coid, limit, tif in (("day", 90, TimeInForce.DAY), ("gtc", 91, TimeInForce.GTC), ("ioc", 92, TimeInForce.IOC)):
        broker.submit(Order(coid, "s", "SPY", Side.BUY, 10, OrderType.LIMIT, T0, D(100), D(limit), time_in_force=tif))
    broker.on_bar(bar(1, 100, 100.5, 99.5, 100))
    assert ("ioc", "canceled") in events(seen)
    next_day = Bar("SPY", T0 + timedelta(days=1), 95, 95, 90.5, 91, 1_000_000)
    broker.on_bar(next_day)
    assert ("day", "expired") in events(seen)
    expired = next(u for u in seen if u.event == "expired")
    assert expired.timestamp == datetime(2024, 3, 4, 21, 0, tzinfo=UTC)  # the 16:00 close, New York
    assert [(f.order_id, f.price) for f in broker.fills] == [("gtc", D(91))]


@pytest.mark.parametrize(
    ("order", "message"),
    [
        (Order("x", "s", "SPY", Side.SELL, 10, OrderType.STOP, T0, D(100), stop_price=D("100.50")), "below the market"),
        (Order("x", "s", "SPY", Side.BUY, 10, OrderType.STOP, T0, D(100), stop_price=D(99)), "above the market"),
        (Order("x", "s", "SPY", Side.SELL, 10, OrderType.STOP, T0, D(100)), "needs a positive stop price"),
        (Order("x", "s", "SPY", Side.SELL, 10, OrderType.TRAILING_STOP, T0, D(100)), "trail_bps"),
        (entry(take_profit=D(99), stop_loss=D(98)), "take_profit.limit_price 99 must be above"),
        (entry(take_profit=D(102), stop_loss=D("100.5")), "stop_loss.stop_price 100.5 must be below"),
        (entry(take_profit=D(98), stop_loss=D(99)), "must be above its stop-loss"),
        (entry(take_profit=D(102), stop_loss=D(98), time_in_force=TimeInForce.IOC), "day or gtc"),
    ],
)
def test_the_venue_refuses_what_alpaca_refuses(order: Order, message: str) -> None:
    broker, seen = venue()
    with pytest.raises(BrokerRejected, match=message):
        broker.submit(order)
    assert broker.all_orders() == []
    assert seen == []


def test_a_restarted_venue_keeps_held_and_working_legs_and_trailing_stops() -> None:
    journal = DictJournal()
    broker = SimulatedBroker(SimulatorConfig(fills=EXACT), start=T0, journal=journal)
    broker.on_update(lambda u: None)
    broker.on_bar(bar(0, 100, 100.5, 99.5, 100))
    broker.submit(entry(take_profit=D(104), stop_loss=D(99), time_in_force=TimeInForce.GTC))
    broker.submit(entry("e2", take_profit=D(104), stop_loss=D(99)))  # held: the wash-trade rule ignores legs
    broker.on_bar(bar(1, 100.2, 103, 99.8, 102))
    broker.cancel("e2")  # filled already: refused; its legs work on
    broker.submit(Order("t1", "s", "SPY", Side.SELL, 5, OrderType.TRAILING_STOP, T0, D(100), trail_bps=D(100)))
    again = SimulatedBroker(SimulatorConfig(fills=EXACT), journal=journal)
    seen: list[OrderUpdate] = []
    again.on_update(seen.append)
    assert again.get_order("e1.tp") == broker.get_order("e1.tp")
    assert again.get_order("e1.tp").time_in_force is TimeInForce.GTC  # type: ignore[union-attr]
    again.on_bar(bar(2, 102, 102.5, 101.5, 101.8))  # stop 102 x 0.99 = 100.98: not reached; best 102.50
    assert len(again.fills) == 0
    again.on_bar(bar(3, 101.5, 101.6, 101.2, 101.3))  # stop 101.475 -> 101.48: reached
    assert [(f.order_id, f.price) for f in again.fills] == [("t1", D("101.48"))]
    again.on_bar(bar(4, 101, 101.1, 98.8, 99))  # both entries' stop-losses
    assert sorted((f.order_id, f.qty, f.price) for f in again.fills[1:]) == [("e1.sl", 10, D(99)), ("e2.sl", 10, D(99))]
    assert {("e1.tp", "canceled"), ("e2.tp", "canceled")} <= set(events(seen))


def oco(coid: str = "x1", side: Side = Side.SELL, take: str = "101", loss: str = "99") -> Order:
    """A one-cancels-other exit of 10 shares: a take-profit limit with its stop-loss leg."""
    return Order(
        coid, "s", "SPY", side, 10, OrderType.LIMIT, T0, D(100), D(take),
        time_in_force=TimeInForce.GTC, stop_loss=D(loss), oco=True,
    )  # fmt: skip


def test_a_one_cancels_other_exit_works_both_sides_at_once_and_the_first_fill_cancels_the_other() -> None:
    broker, seen = venue()
    broker.submit(entry())
    broker.on_bar(bar(1, 100.2, 100.8, 99.8, 100.5))  # 10 bought at the open
    broker.submit(oco())
    assert [o.client_order_id for o in broker.exit_legs("x1")] == ["x1.sl"]
    broker.on_bar(bar(2, 100.5, 100.9, 99.5, 100))  # neither reached
    assert {o.client_order_id for o in broker.open_orders()} == {"x1", "x1.sl"}
    broker.on_bar(bar(3, 100, 100.4, 98.8, 99))  # the stop-loss: at 99, and the take-profit goes with it
    assert events(seen)[2:] == [("x1", "new"), ("x1.sl", "new"), ("x1.sl", "fill"), ("x1", "canceled")]
    assert (broker.fills[-1].order_id, broker.fills[-1].price) == ("x1.sl", D(99))
    assert broker.positions() == []
    # a short's exit: the take-profit buy limit fills first, its stop-loss is canceled
    broker.submit(entry("e2", Side.SELL))
    broker.on_bar(bar(4, 99, 99.5, 98.5, 99))
    broker.submit(oco("x2", Side.BUY, take="98", loss="100.5"))
    broker.on_bar(bar(5, 99, 99.2, 97.5, 98))
    assert events(seen)[-2:] == [("x2", "fill"), ("x2.sl", "canceled")]
    assert broker.positions() == []


def test_a_one_cancels_other_exit_is_refused_with_its_stop_on_the_wrong_side_and_canceled_whole() -> None:
    broker, _seen = venue()
    with pytest.raises(BrokerRejected, match=r"stop_loss.stop_price 100.50 must be below the market \(100"):
        broker.submit(oco(loss="100.50"))
    with pytest.raises(BrokerRejected, match=r"take-profit \(98\) must be above its stop-loss"):
        broker.submit(oco(take="98", loss="99"))
    broker.submit(entry())
    broker.on_bar(bar(1, 100.2, 100.8, 99.8, 100.5))
    broker.submit(oco())
    broker.cancel("x1")  # the strategy's own exit cancels the exit, and its leg with it
    assert broker.open_orders() == []
    assert broker.get_order("x1.sl").status.value == "canceled"  # type: ignore[union-attr]
