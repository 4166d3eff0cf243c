"""The paper run's trading side with ``--broker alpaca``: fresh bars on the bus, orders through
alpaca-py to an Alpaca-format server on loopback (REST) with its trade_updates websocket --
each decision placed once under its deterministic client order id, unfilled limit orders canceled."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from quantterminal.adapters.broker.alpaca_broker import AlpacaBroker
from quantterminal.adapters.ledger.sqlite_ledger import SqliteLedger
from quantterminal.adapters.state.memory_state import MemoryStateStore
from quantterminal.adapters.streams.bus import LocalBus
from quantterminal.core.market_data.feed_events import BarSource, BarUpdate
from quantterminal.core.models import Bar
from quantterminal.core.trading.feed_codec import encode_bar_update
from quantterminal.wiring.paper import PaperTrader
from quantterminal.wiring.runtime import Runtime
from tests.fakes.alpaca_server import KEY, SECRET, FakeAlpaca
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
