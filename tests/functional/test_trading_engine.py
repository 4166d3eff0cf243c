"""The live decision path on real bars: strategy state through the store, risk, placement, fills."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantterminal.adapters.broker.simulated_broker import SimulatedBroker, SimulatorConfig
from quantterminal.adapters.ledger.sqlite_ledger import SqliteLedger
from quantterminal.adapters.state.memory_state import MemoryStateStore
from quantterminal.core.accounting.account_book import AccountBook
from quantterminal.core.accounting.orders import Order, OrderStatus, OrderType, OrderUpdate
from quantterminal.core.accounting.state import Reservation
from quantterminal.core.models import Bar, Execution, Side
from quantterminal.core.money import to_decimal
from quantterminal.core.reporting.post_trade import execution_quality
from quantterminal.core.risk.gate import RiskGate
from quantterminal.core.risk.manager import AccountView, RiskLimits
from quantterminal.core.simulation.backtest import BacktestConfig
from quantterminal.core.simulation.fill_model import FillModel
from quantterminal.core.strategies import Momentum
from quantterminal.core.trading.config import TradingConfig
from quantterminal.core.trading.engine import TradingEngine
from quantterminal.wiring.backtest import run_backtest

LIMITS = RiskLimits(position_limit=Decimal("0.25"))


def wire(chaos: bool = False) -> tuple[TradingEngine, SimulatedBroker, MemoryStateStore, SqliteLedger]:
    store = MemoryStateStore()
    ledger = SqliteLedger(":memory:")
    ledger.migrate()
    broker = SimulatedBroker(SimulatorConfig(chaos=chaos, seed=7, fills=FillModel(participation=0.5)))
    engine = TradingEngine("momentum", "paper", store, broker, RiskGate(store, "paper", LIMITS, ledger), ledger)
    broker.on_update(engine.on_update)
    return engine, broker, store, ledger


def view_of(broker: SimulatedBroker, bar: Bar) -> AccountView:
    account = broker.account()
    return AccountView(
        account.equity, account.cash, {p.symbol: p.qty for p in broker.positions()}, {bar.symbol: to_decimal(bar.close)}
    )


def drive(engine: TradingEngine, broker: SimulatedBroker, bars: list[Bar]) -> list[object]:
    decisions = []
    for bar in bars:
        broker.on_bar(bar)  # the bar closes: resting orders work against it
        decisions.append(engine.on_bar(bar, view_of(broker, bar), bar.timestamp + timedelta(minutes=1)))
    return decisions


@pytest.fixture(scope="module")
def day(spy_2011_rth: list[Bar]) -> list[Bar]:
    return spy_2011_rth[:389]  # one session (the last minute leaves no time to work an order)


def test_decisions_match_an_uninterrupted_strategy_with_state_restored_on_every_bar(day: list[Bar]) -> None:
    engine, broker, _, _ = wire()
    decisions = drive(engine, broker, day)
    live = [d.wanted for d in decisions]
    reference = Momentum("SPY")
    assert live == [reference.on_bar(bar) for bar in day]
    backtest = run_backtest(BacktestConfig(("momentum",)), {"SPY": day})
    changes = [d for i, d in enumerate(live) if d is not None and (i == 0 or live[i - 1] != d)]
    assert changes == [s.direction for s in backtest.signals]


def test_orders_fill_and_the_stored_position_matches_the_broker(day: list[Bar]) -> None:
    engine, broker, store, ledger = wire(chaos=True)
    decisions = drive(engine, broker, day)
    broker.flush()
    placed = [d for d in decisions if d.placed is not None]
    assert placed
    truth = {p.symbol: p.qty for p in broker.positions()}
    assert store.get_position("paper", "momentum", "SPY").qty == truth.get("SPY", 0)
    live_reservations = store.get_risk_state("paper").reservations
    assert {r.client_order_id for r in live_reservations} == {o.client_order_id for o in store.open_orders("paper")}
    assert ledger.fills_on(date(2011, 1, 3))
    assert len(ledger.fills_on(date(2011, 1, 3))) == len(broker.fills)


def test_a_redelivered_bar_places_nothing_twice(day: list[Bar]) -> None:
    engine, broker, _, _ = wire()
    decisions = drive(engine, broker, day[:60])
    first = next(i for i, d in enumerate(decisions) if d.placed is not None)
    bar = day[first]
    before = len(broker.all_orders())
    again = engine.on_bar(bar, view_of(broker, bar), bar.timestamp + timedelta(minutes=1))
    assert again.placed is None
    assert len(broker.all_orders()) == before


def test_a_halt_stops_new_orders_on_the_next_decision(day: list[Bar]) -> None:
    engine, broker, _, ledger = wire()
    engine.gate.halt("operator test", day[0].timestamp)
    decisions = drive(engine, broker, day[:120])
    assert not broker.open_orders()
    assert broker.fills == []
    held_back = [d for d in decisions if d.note.startswith("trading halted: operator test")]
    assert held_back, "every decision that wanted a trade says why none was made"
    assert all(d.order is None and d.placed is None for d in decisions)
    # the halt is recorded once, not a rejection for every bar the strategy still wants in
    assert {e.kind for e in ledger.risk_events_on(date(2011, 1, 3))} == {"halt"}


def test_stale_limit_orders_are_canceled_and_fill_statistics_kept(day: list[Bar]) -> None:
    store = MemoryStateStore()
    ledger = SqliteLedger(":memory:")
    ledger.migrate()
    broker = SimulatedBroker(SimulatorConfig(fills=FillModel(participation=0.5)))
    # A limit 2% away from the market (inside the 3% price band) is never reached in a day: all go stale.
    engine = TradingEngine(
        "momentum",
        "paper",
        store,
        broker,
        RiskGate(store, "paper", LIMITS),
        ledger,
        config=TradingConfig(limit_offset_bps=Decimal(-200)),
    )
    broker.on_update(engine.on_update)
    canceled: list[str] = []
    for bar in day[:200]:
        broker.on_bar(bar)
        now = bar.timestamp + timedelta(minutes=1)
        canceled += engine.cancel_stale(now)
        engine.on_bar(bar, view_of(broker, bar), now)
    broker.flush()
    assert canceled
    stats = execution_quality(ledger.orders_on(date(2011, 1, 3)), ledger.fills_on(date(2011, 1, 3)))
    assert stats.orders == len(canceled) + len(store.open_orders("paper"))
    assert (stats.filled, stats.fill_rate) == (0, 0.0)
    assert stats.unfilled == stats.orders
    reserved = {r.client_order_id for r in store.get_risk_state("paper").reservations}
    assert reserved == {o.client_order_id for o in store.open_orders("paper")}, "canceled orders released theirs"
    assert not reserved & set(canceled)


def test_fill_statistics_of_marketable_orders(day: list[Bar]) -> None:
    engine, broker, _, ledger = wire()
    drive(engine, broker, day)
    broker.flush()
    stats = execution_quality(ledger.orders_on(date(2011, 1, 3)), ledger.fills_on(date(2011, 1, 3)))
    assert stats.orders > 0
    assert stats.fill_rate is not None
    assert 0 < stats.fill_rate <= 1
    assert stats.median_seconds_to_fill is not None


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 100_000), use_ledger=st.booleans())
def test_stored_position_matches_canonical_accounting_under_chaos(day: list[Bar], seed: int, use_ledger: bool) -> None:
    """Partial fills at moving prices, delivered late, twice and out of order: the stored position
    (lots and realised P&L) equals the canonical replay of the same executions. (A long/flat strategy
    closes whole positions, so lot order rarely shows here; the test after this one pins that case.)"""
    store = MemoryStateStore()
    ledger = None
    if use_ledger:
        ledger = SqliteLedger(":memory:")
        ledger.migrate()
    broker = SimulatedBroker(
        SimulatorConfig(chaos=True, seed=seed, fills=FillModel(participation=0.0001), max_delay=timedelta(minutes=3))
    )
    engine = TradingEngine(
        "momentum",
        "paper",
        store,
        broker,
        RiskGate(store, "paper", LIMITS),
        ledger,
        config=TradingConfig(type=OrderType.MARKET),
    )
    book = AccountBook(broker.config.initial_cash)
    seen: set[str] = set()

    def deliver(update: OrderUpdate) -> None:
        engine.on_update(update)
        order = broker.get_order(update.client_order_id)
        if order is not None and update.client_order_id not in seen:
            seen.add(update.client_order_id)
            book.track(order.client_order_id, order.symbol, order.side, order.qty)
        book.apply(update)

    broker.on_update(deliver)
    drive(engine, broker, day[:150])
    broker.flush()
    stored = store.get_position("paper", "momentum", "SPY")
    canonical = book.portfolio.position("SPY")
    assert stored.lots == canonical.lots()
    assert stored.realized_pnl == canonical.realized_pnl


@pytest.mark.parametrize("use_ledger", [True, False])
def test_executions_delivered_backwards_are_booked_in_execution_order(use_ledger: bool) -> None:
    """A buy filled 10 @ 100 then 10 @ 101, delivered the other way round, then a sale of 5: FIFO in
    execution order realises against the 100 lot -- not the 101 lot that happened to arrive first."""
    store = MemoryStateStore()
    ledger = SqliteLedger(":memory:") if use_ledger else None
    if ledger is not None:
        ledger.migrate()
    engine = TradingEngine("momentum", "paper", store, SimulatedBroker(), RiskGate(store, "paper", LIMITS), ledger)
    t0 = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)
    for coid, side, qty in (("buy", Side.BUY, 20), ("sell", Side.SELL, 5)):
        store.add_open_order(
            Order(coid, "momentum", "SPY", side, qty, OrderType.MARKET, account="paper", created_at=t0)
        )
        if ledger is not None:
            ledger.record_order(Order(coid, "momentum", "SPY", side, qty, OrderType.MARKET, t0, Decimal(100)))
    first = Execution("x1", 10, Decimal(100), t0 + timedelta(seconds=1))
    second = Execution("x2", 10, Decimal(101), t0 + timedelta(seconds=2))
    engine.on_update(OrderUpdate("buy", "fill", second.timestamp, 20, second))
    engine.on_update(OrderUpdate("buy", "partial_fill", first.timestamp, 10, first))
    engine.on_update(OrderUpdate("buy", "partial_fill", first.timestamp, 10, first))  # and once more
    sale = Execution("x3", 5, Decimal(102), t0 + timedelta(seconds=3))
    engine.on_update(OrderUpdate("sell", "fill", sale.timestamp, 5, sale))
    position = store.get_position("paper", "momentum", "SPY")
    assert position.lots == ((5, Decimal(100)), (10, Decimal(101)))
    assert position.realized_pnl == Decimal(10)  # (102 - 100) x 5


def test_a_fill_that_overtakes_its_partial_fill_loses_nothing_across_a_restart() -> None:
    """The terminal ``fill`` (cumulative 20, execution x2) arrives first and is booked; the process
    restarts; then the ``partial_fill`` with x1 arrives. The order must still be open so that x1 is
    booked: the position holds all 20 shares and the order is forgotten only then."""
    store = MemoryStateStore()
    ledger = SqliteLedger(":memory:")
    ledger.migrate()
    t0 = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)
    store.add_open_order(
        Order("buy", "momentum", "SPY", Side.BUY, 20, OrderType.MARKET, account="paper", created_at=t0)
    )
    ledger.record_order(Order("buy", "momentum", "SPY", Side.BUY, 20, OrderType.MARKET, t0, Decimal(100)))

    def engine() -> TradingEngine:  # a fresh process: nothing in memory
        return TradingEngine("momentum", "paper", store, SimulatedBroker(), RiskGate(store, "paper", LIMITS), ledger)

    first = Execution("x1", 10, Decimal(100), t0 + timedelta(seconds=1))
    second = Execution("x2", 10, Decimal(101), t0 + timedelta(seconds=2))
    engine().on_update(OrderUpdate("buy", "fill", second.timestamp, 20, second))
    waiting = store.get_open_order("buy")
    assert waiting is not None
    assert waiting.status is OrderStatus.FILLED
    assert waiting.booked_qty == 10
    engine().on_update(OrderUpdate("buy", "fill", second.timestamp, 20, second))  # redelivered: nothing new
    engine().on_update(OrderUpdate("buy", "partial_fill", first.timestamp, 10, first))
    assert store.get_position("paper", "momentum", "SPY").lots == ((10, Decimal(100)), (10, Decimal(101)))
    assert store.get_open_order("buy") is None
    assert store.get_risk_state("paper").reservations == ()
    assert [f.execution_id for f in ledger.fills_for("momentum", "SPY")] == ["x1", "x2"]


T1 = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)
BUY_UPDATES = [  # one buy of 30: new, three partial fills, the fill, and a late cancel request refused
    OrderUpdate("buy", "new", T1, 0),
    OrderUpdate("buy", "partial_fill", T1 + timedelta(seconds=1), 10, Execution("b1", 10, Decimal(100), T1)),
    OrderUpdate(
        "buy", "partial_fill", T1 + timedelta(seconds=2), 20, Execution("b2", 10, Decimal(101), T1 + timedelta(1))
    ),
    OrderUpdate("buy", "fill", T1 + timedelta(seconds=3), 30, Execution("b3", 10, Decimal(99), T1 + timedelta(2))),
    OrderUpdate("buy", "order_cancel_rejected", T1 + timedelta(seconds=4), 30),
]
SELL_UPDATES = [  # a sale of 15 that is canceled after one partial fill of 5
    OrderUpdate("sell", "new", T1 + timedelta(days=3), 0),
    OrderUpdate(
        "sell",
        "partial_fill",
        T1 + timedelta(days=3, seconds=1),
        5,
        Execution("s1", 5, Decimal(105), T1 + timedelta(3)),
    ),
    OrderUpdate("sell", "canceled", T1 + timedelta(days=3, seconds=2), 5),
]


@settings(max_examples=60, deadline=None)
@given(
    order=st.permutations(range(len(BUY_UPDATES) + len(SELL_UPDATES))),
    twice=st.sets(st.integers(0, len(BUY_UPDATES) + len(SELL_UPDATES) - 1)),
    use_ledger=st.booleans(),
)
def test_every_arrival_order_gives_the_same_books_on_the_production_path(
    order: list[int], twice: set[int], use_ledger: bool
) -> None:
    """The updates of two orders, in any order, some twice, each booked by a *fresh* engine (a new
    Lambda every time: nothing in memory). Positions, realised P&L, open orders and reservations
    end the same for every arrival order -- and the same as in execution order."""

    def books(sequence: list[OrderUpdate]) -> tuple[object, ...]:
        store = MemoryStateStore()
        ledger = SqliteLedger(":memory:") if use_ledger else None
        if ledger is not None:
            ledger.migrate()
        gate = RiskGate(store, "paper", LIMITS)
        for coid, side, qty in (("buy", Side.BUY, 30), ("sell", Side.SELL, 15)):
            store.add_open_order(
                Order(coid, "momentum", "SPY", side, qty, OrderType.MARKET, account="paper", created_at=T1)
            )
            store.update_risk_state("paper", lambda s, c=coid, d=side, q=qty: replace(
                s, reservations=(*s.reservations, Reservation(c, "SPY", d, q, Decimal(100)))
            ))  # fmt: skip
            if ledger is not None:
                ledger.record_order(Order(coid, "momentum", "SPY", side, qty, OrderType.MARKET, T1, Decimal(100)))
        engine = None
        for update in sequence:
            if ledger is not None or engine is None:  # with a ledger, a fresh engine every time
                engine = TradingEngine("momentum", "paper", store, SimulatedBroker(), gate, ledger)
            engine.on_update(update)
        position = store.get_position("paper", "momentum", "SPY")
        return (
            position.lots,
            position.realized_pnl,
            [o.client_order_id for o in store.open_orders("paper")],
            store.get_risk_state("paper").reservations,
        )

    updates = BUY_UPDATES + SELL_UPDATES
    arrived = [updates[i] for i in order] + [updates[i] for i in sorted(twice)]
    assert books(arrived) == books(updates)
    assert books(updates)[2:] == ([], ())  # everything finished, nothing reserved


class Crash(Exception):  # noqa: N818 - a process death, not an error
    """The process died here (a Lambda timeout, an OOM kill)."""


def test_every_bar_delivered_twice_gives_the_same_decisions_and_orders(day: list[Bar]) -> None:
    once, broker_once, _, _ = wire()
    twice, broker_twice, _, _ = wire()
    first = drive(once, broker_once, day)
    second = []
    for bar in day:
        broker_twice.on_bar(bar)
        view = view_of(broker_twice, bar)
        decision = twice.on_bar(bar, view, bar.timestamp + timedelta(minutes=1))
        again = twice.on_bar(bar, view, bar.timestamp + timedelta(minutes=1))  # Kinesis redelivers
        assert again.placed is None or again.placed.client_order_id == decision.order.client_order_id  # type: ignore[union-attr]
        second.append(decision)
    signals = [d.wanted for d in first]
    assert signals == [d.wanted for d in second]
    placed = [o.client_order_id for o in broker_once.all_orders()]
    assert placed == [o.client_order_id for o in broker_twice.all_orders()]
    assert placed


@pytest.mark.parametrize("where", ["submit", "record"])
def test_a_crash_mid_decision_is_finished_by_the_redelivery_exactly_once(day: list[Bar], where: str) -> None:
    """A crash after the risk reservation (before the order is recorded) or after recording (before
    the broker has it): the redelivered bar places the order once, and nothing leaks."""
    engine, broker, store, _ = wire()
    armed = {"on": False}
    real_submit, real_record = broker.submit, store.add_open_order

    def submit(order: object) -> object:
        if armed["on"] and where == "submit":
            armed["on"] = False
            raise Crash("killed before the broker answered")
        return real_submit(order)  # type: ignore[arg-type]

    def record(order: object) -> bool:
        if armed["on"] and where == "record":
            armed["on"] = False
            raise Crash("killed before the order was recorded")
        return real_record(order)  # type: ignore[arg-type]

    broker.submit = submit  # type: ignore[method-assign]
    store.add_open_order = record  # type: ignore[method-assign]
    crashed = None
    for bar in day:
        broker.on_bar(bar)
        now = bar.timestamp + timedelta(minutes=1)
        armed["on"] = crashed is None
        try:
            engine.on_bar(bar, view_of(broker, bar), now)
        except Crash:
            crashed = bar
            decision = engine.on_bar(bar, view_of(broker, bar), now)  # the batch is redelivered
            assert decision.placed is not None, decision.note
        armed["on"] = False
    assert crashed is not None
    orders = broker.all_orders()
    assert len({o.client_order_id for o in orders}) == len(orders)
    broker.flush()
    assert {r.client_order_id for r in store.get_risk_state("paper").reservations} == {
        o.client_order_id for o in store.open_orders("paper")
    }


T_WORKING = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)


def working_limit(coid: str) -> Order:
    """A small limit order of momentum's, stored as working since ``T_WORKING``."""
    return Order(
        coid, "momentum", "SPY", Side.BUY, 5, OrderType.LIMIT, limit_price=Decimal(1), account="paper",
        created_at=T_WORKING,
    )  # fmt: skip


def test_stale_cancels_skip_orders_in_a_brokers_own_status() -> None:
    """Reconciliation adopts open orders with the broker's own status (Alpaca: "pending_new",
    "held"); looking for stale limit orders must not trip over a status outside our own."""
    store = MemoryStateStore()
    broker = SimulatedBroker()
    engine = TradingEngine("momentum", "paper", store, broker, RiskGate(store, "paper", LIMITS))
    store.add_open_order(working_limit("momentum-x").reported_as("pending_new"))
    assert engine.cancel_stale(T_WORKING + timedelta(minutes=5)) == ["momentum-x"]


class _BookedMeanwhile(SimulatedBroker):
    """A broker whose cancel lands just after the order-events handler booked the order's end."""

    def __init__(self, store: MemoryStateStore) -> None:
        super().__init__()
        self.store = store
        self.cancels: list[str] = []

    def cancel(self, client_order_id: str) -> None:
        self.cancels.append(client_order_id)
        self.store.remove_open_order(client_order_id)  # the final fill, booked by another process


def test_an_order_finished_while_the_step_ran_is_skipped_not_canceled_and_fails_nothing() -> None:
    store = MemoryStateStore()
    broker = _BookedMeanwhile(store)
    engine = TradingEngine("momentum", "paper", store, broker, RiskGate(store, "paper", LIMITS))
    for coid in ("momentum-filled", "momentum-racing"):
        store.add_open_order(working_limit(coid))
    snapshot = store.open_orders("paper")  # what the step read at its start
    store.remove_open_order("momentum-filled")  # finished before the step got to it
    later = T_WORKING + timedelta(minutes=5)
    # The finished one is not canceled at all; the racing one's cancel meets an order already gone
    assert engine.cancel_stale(later, open_orders=snapshot) == []
    assert broker.cancels == ["momentum-racing"]
    assert store.open_orders("paper") == []


def test_an_order_refused_at_submit_is_recorded_as_refused() -> None:
    store, ledger = MemoryStateStore(), SqliteLedger(":memory:")
    ledger.migrate()
    broker = SimulatedBroker(SimulatorConfig(initial_cash=Decimal(1_000)))  # cannot fund 20 shares at 100
    engine = TradingEngine("momentum", "paper", store, broker, RiskGate(store, "paper", LIMITS, ledger), ledger)
    bar = Bar("SPY", T1, 100.0, 100.0, 100.0, 100.0, 10_000)
    broker.on_bar(bar)
    view = AccountView(Decimal(100_000), Decimal(100_000), {"SPY": -20}, {"SPY": Decimal(100)})
    decision = engine.close_position(bar, -20, view, T1 + timedelta(minutes=1), "cover")
    assert decision.note.startswith("broker rejected: insufficient buying power")
    [order] = ledger.orders_between(T1, T1 + timedelta(minutes=1))
    assert [e.event for e in ledger.order_events(order.client_order_id)] == ["rejected"]
    assert store.open_orders("paper") == []
    assert store.get_risk_state("paper").reservations == ()
    ledger.close()
