"""The paper run's trading side with ``--broker alpaca``: fresh bars on the bus, orders through
alpaca-py to an Alpaca-format server on loopback (REST) with its trade_updates websocket --
each decision placed once under its deterministic client order id, unfilled limit orders canceled."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from quantterminal.adapters.broker.alpaca_broker import AlpacaBroker
from quantterminal.adapters.ledger.sqlite_ledger import SqliteLedger
from quantterminal.adapters.state.memory_state import MemoryStateStore
from quantterminal.adapters.streams.bus import LocalBus
from quantterminal.core.market_data.feed_events import BarSource, BarUpdate
from quantterminal.core.models import Bar
from quantterminal.core.trading.config import TradingConfig
from quantterminal.core.trading.feed_codec import encode_bar_update
from quantterminal.wiring.paper import PaperTrader
from quantterminal.wiring.runtime import Runtime
from tests.contract.test_trade_stream import until
from tests.fakes.alpaca_server import KEY, SECRET, FakeAlpaca, Fault
from tests.fakes.alpaca_stream import FakeTradingStream


def test_orders_go_to_alpaca_once_per_decision_and_stale_ones_are_canceled(
    tmp_path: Path, spy_2011_rth: list[Bar]
) -> None:
    ledger = SqliteLedger(tmp_path / "ledger.sqlite3")
    ledger.migrate()
    with FakeAlpaca() as alpaca, FakeTradingStream([]) as stream:
        broker = AlpacaBroker(KEY, SECRET, paper=True, url_override=alpaca.url, stream_url=stream.url)
        runtime = Runtime.build(MemoryStateStore(), ledger, broker, strategies=("momentum",), symbols=("SPY",))
        clock = {"now": spy_2011_rth[0].timestamp}
        trader = PaperTrader(runtime, LocalBus(), replay_clock=False, wall_clock=lambda: clock["now"])
        for bar in spy_2011_rth[:120]:
            clock["now"] = bar.timestamp + timedelta(minutes=1, seconds=1)  # each bar arrives as it closes
            record = encode_bar_update(BarUpdate(bar, BarSource.PROVIDER))
            trader.on_bar_record(record)
            trader.on_bar_record(record)  # delivered twice: nothing more happens
        broker.close()
    placed = [path for method, path in alpaca.requests if method == "POST" and path == "/v2/orders"]
    canceled = [path for method, path in alpaca.requests if method == "DELETE"]
    recorded = ledger.orders_on(spy_2011_rth[0].timestamp.date())
    assert trader.failure is None
    assert trader.guard.record.outages == 0
    assert placed, "decisions reach Alpaca"
    assert len(placed) == len(recorded) == len(alpaca.orders), "one POST per decision, none repeated"
    assert set(alpaca.orders) == {o.client_order_id for o in recorded}
    assert canceled, "limit orders nobody filled are canceled after 30 s"
    ledger.close()


def trade_until_a_bracket(
    alpaca: FakeAlpaca, stream: FakeTradingStream, store: MemoryStateStore, ledger: SqliteLedger, bars: list[Bar]
) -> tuple[AlpacaBroker, Runtime, PaperTrader]:
    """The paper run's trading side with exit legs on every entry, at the fake Alpaca, fed minute
    bars as they close until its first entry (with its bracket) is placed."""
    exits = TradingConfig(stop_loss_bps=Decimal(15), take_profit_bps=Decimal(30))
    broker = AlpacaBroker(KEY, SECRET, paper=True, url_override=alpaca.url, stream_url=stream.url)
    runtime = Runtime.build(store, ledger, broker, strategies=("momentum",), config=exits, symbols=("SPY",))
    clock = {"now": bars[0].timestamp}
    trader = PaperTrader(runtime, LocalBus(), replay_clock=False, wall_clock=lambda: clock["now"])
    for bar in bars[:400]:
        clock["now"] = bar.timestamp + timedelta(minutes=1, seconds=1)
        trader.on_bar_record(encode_bar_update(BarUpdate(bar, BarSource.PROVIDER)))
        if alpaca.legs_of:
            break
    return broker, runtime, trader


def test_exit_legs_are_held_at_alpaca_and_a_leg_fill_closes_the_trade_once(
    tmp_path: Path, spy_2011_rth: list[Bar]
) -> None:
    """``[orders] stop_loss_bps / take_profit_bps`` with the Alpaca broker: each entry goes as one
    bracket request; the kernel records the legs Alpaca named itself under our names; the entry's
    and the take-profit's fills (the latter delivered twice) are booked once, and the stop-loss's
    cancel -- which Alpaca does not stream (alpaca-py#198) -- comes back by the REST catch-up."""
    ledger = SqliteLedger(tmp_path / "ledger.sqlite3")
    ledger.migrate()
    store = MemoryStateStore()
    with FakeAlpaca() as alpaca, FakeTradingStream([]) as stream:
        broker, runtime, trader = trade_until_a_bracket(alpaca, stream, store, ledger, spy_2011_rth)
        (entry,) = alpaca.legs_of
        assert alpaca.orders[entry]["order_class"] == "bracket"
        legs = {alpaca.orders[n]["type"]: alpaca.orders[n] for n in alpaca.legs_of[entry]}
        recorded = {o.client_order_id: o for o in store.open_orders(runtime.account)}
        assert recorded[f"{entry}.tp"].broker_order_id == legs["limit"]["id"]
        assert recorded[f"{entry}.sl"].broker_order_id == legs["stop"]["id"]
        assert broker.stream is not None
        assert until(lambda: broker.stream is not None and broker.stream.stats.catch_ups >= 1)
        qty = int(alpaca.orders[entry]["qty"])
        assert stream.push(alpaca.fill(entry, qty, alpaca.orders[entry]["limit_price"]))
        take_profit = alpaca.fill(legs["limit"]["client_order_id"], qty, legs["limit"]["limit_price"])
        for message in (*alpaca.notices, take_profit, take_profit):
            assert stream.push(message)

        def open_now() -> set[str]:
            trader.book_updates()
            return {o.client_order_id for o in store.open_orders(runtime.account)}

        assert until(lambda: f"{entry}.tp" not in open_now()), "the take-profit's fill is booked"
        assert open_now() == {f"{entry}.sl"}, "the stop-loss stays open here: its cancel was not streamed"
        broker.stream.catch_up()
        assert until(lambda: not open_now())
        broker.close()
    position = store.get_position(runtime.account, "momentum", "SPY")
    fills = ledger.fills_for("momentum", "SPY")
    assert position.qty == 0
    assert [f.order_id for f in fills] == [entry, f"{entry}.tp"]
    assert [f.qty for f in fills] == [qty, qty]
    assert trader.failure is None
    assert trader.guard.record.outages == 0, "nothing was retried: every write of the legs went through first time"
    ledger.close()


def test_a_bracket_whose_submit_answer_was_lost_still_gets_its_legs_recorded(
    tmp_path: Path, spy_2011_rth: list[Bar]
) -> None:
    """The entry lands at Alpaca but its answer is a 500 (``Fault(process=True)``): the kernel
    finds the order by its client order id instead of posting again, and reads the legs Alpaca
    made for it (nested) -- so they are recorded under our names though no answer ever named them."""
    ledger = SqliteLedger(tmp_path / "ledger.sqlite3")
    ledger.migrate()
    store = MemoryStateStore()
    with FakeAlpaca() as alpaca, FakeTradingStream([]) as stream:
        alpaca.faults.append(Fault(status=500, process=True))  # the first order lands; its answer fails
        broker, runtime, _ = trade_until_a_bracket(alpaca, stream, store, ledger, spy_2011_rth)
        broker.close()
    (entry,) = alpaca.legs_of
    assert alpaca.posts() == 1, "found by its client order id, never posted twice"
    assert not alpaca.faults, "the fault was met"
    legs = {alpaca.orders[n]["type"]: alpaca.orders[n]["id"] for n in alpaca.legs_of[entry]}
    recorded = {o.client_order_id: o for o in store.open_orders(runtime.account)}
    assert recorded[f"{entry}.tp"].broker_order_id == legs["limit"]
    assert recorded[f"{entry}.sl"].broker_order_id == legs["stop"]
    assert {o.client_order_id for o in ledger.orders_on(spy_2011_rth[0].timestamp.date())} == {
        entry,
        f"{entry}.tp",
        f"{entry}.sl",
    }
    ledger.close()
