"""A cancel that loses the race with a fill, against a server that answers as Alpaca documents
(docs.alpaca.markets/reference/cancel-an-order-by-id: a cancel of an order that is no longer
cancelable, e.g. filled, is refused with 422). The refusal is final for the cancel -- nothing is
retried, nothing fails -- and the fill, which arrives afterwards (and twice), is booked once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from quantterminal.adapters.broker.alpaca_broker import AlpacaBroker, to_order_update
from quantterminal.adapters.ledger.sqlite_ledger import SqliteLedger
from quantterminal.adapters.state.memory_state import MemoryStateStore
from quantterminal.core.accounting.orders import Order, OrderType
from quantterminal.core.models import Side
from quantterminal.core.risk.gate import RiskGate
from quantterminal.core.risk.manager import RiskLimits
from quantterminal.core.trading.broker import BrokerRejected
from quantterminal.core.trading.engine import TradingEngine
from tests.fakes.alpaca_server import KEY, SECRET, FakeAlpaca

T0 = datetime(2025, 7, 15, 14, 1, tzinfo=UTC)
COID = "momentum-SPY-20250715T1401"


def test_a_cancel_refused_because_the_order_filled_is_final_and_the_fill_is_booked_once(alpaca: FakeAlpaca) -> None:
    broker = AlpacaBroker(KEY, SECRET, paper=True, url_override=alpaca.url, timeout=1.0)
    store, ledger = MemoryStateStore(), SqliteLedger(":memory:")
    ledger.migrate()
    gate = RiskGate(store, "paper", RiskLimits(position_limit=Decimal("0.5")), ledger)
    engine = TradingEngine("momentum", "paper", store, broker, gate, ledger)
    decided = Order(
        COID, "momentum", "SPY", Side.BUY, 10, OrderType.LIMIT, T0, Decimal("624.48"), Decimal("624.50"),
        account="paper", created_at=T0,
    )  # fmt: skip
    ledger.record_order(decided)
    broker.submit(decided)
    store.add_open_order(decided)
    # The order fills at the broker; its trade update is still on the way when the cancel goes out
    message = alpaca.fill(COID, 10, "624.40", at=T0 + timedelta(seconds=20))
    with pytest.raises(BrokerRejected, match="HTTP 422"):
        broker.cancel(COID)
    deletes = sum(method == "DELETE" for method, _ in alpaca.requests)
    assert engine.cancel_stale(T0 + timedelta(minutes=5)) == []  # refused, not an error, not retried
    assert sum(method == "DELETE" for method, _ in alpaca.requests) == deletes + 1
    still = store.get_open_order(COID)
    assert still is not None
    assert still.cancel_requested_at is None, "no cancel is recorded for it"
    update = to_order_update(message["data"])
    engine.on_update(update)
    engine.on_update(update)  # the stream delivers at least once
    (position,) = [p for p in store.positions("paper") if p.qty]
    assert (position.symbol, position.qty) == ("SPY", 10)
    assert [(f.qty, f.price) for f in ledger.fills_for("momentum", "SPY")] == [(10, Decimal("624.40"))]
    assert store.get_open_order(COID) is None
