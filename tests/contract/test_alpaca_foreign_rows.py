"""A trade made by hand in Alpaca's dashboard -- a fractional (notional) buy, a stop order --
against a server that reports them as Alpaca documents (positions and orders with decimal-string
``qty``; stop orders with ``type: stop``). Each such row is skipped with an alert; everything else
is still reconciled and caught up. Before, one fractional row stopped reconciliation and made the
trade_updates catch-up re-read the same window for 24 hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from quantterminal.adapters.broker.alpaca_broker import AlpacaBroker
from quantterminal.adapters.broker.alpaca_trade_stream import AlpacaTradeStream, TradeStreamSettings
from quantterminal.adapters.state.memory_state import MemoryStateStore
from quantterminal.core.accounting.orders import Order, OrderType
from quantterminal.core.models import Side
from quantterminal.core.risk.gate import RiskGate
from quantterminal.core.risk.manager import RiskLimits
from quantterminal.core.trading.reconcile import Reconciler
from tests.fakes.alpaca_server import KEY, SECRET, FakeAlpaca, position_json

COID = "momentum-SPY-1"


@pytest.fixture
def broker(alpaca: FakeAlpaca) -> AlpacaBroker:
    broker = AlpacaBroker(KEY, SECRET, paper=True, url_override=alpaca.url, timeout=1.0)
    broker.alerts = []  # type: ignore[attr-defined]
    broker.alert = broker.alerts.append  # type: ignore[attr-defined]
    return broker


def by_hand(alpaca: FakeAlpaca, coid: str, symbol: str, qty: str, kind: str = "market") -> dict[str, object]:
    """An order placed in Alpaca's dashboard (its client order id is Alpaca's uuid)."""
    order = alpaca.order_json({"client_order_id": coid, "symbol": symbol, "qty": qty, "type": kind,
                               "side": "buy", "time_in_force": "day"})  # fmt: skip
    alpaca.orders[coid] = order
    return order


def ours(qty: int = 10) -> Order:
    now = datetime.now(UTC)
    return Order(COID, "momentum", "SPY", Side.BUY, qty, OrderType.LIMIT, now, Decimal("624.48"), Decimal("624.50"))


def test_a_fractional_position_is_left_alone_and_every_other_symbol_reconciled(
    alpaca: FakeAlpaca, broker: AlpacaBroker
) -> None:
    alpaca.positions = [
        position_json("SPY", 40, "624.48"),
        position_json("AAPL", 1, "190.00") | {"qty": "1.5", "qty_available": "1.5"},
    ]
    store = MemoryStateStore()
    gate = RiskGate(store, "paper", RiskLimits())
    alerts: list[str] = []
    now = datetime(2025, 7, 15, 15, 0, tzinfo=UTC)
    drifts = Reconciler(store, broker, gate, alert=alerts.append).run(now)
    assert [d.describe() for d in drifts] == ["position SPY: local 0, broker 40"]
    assert any("leaves AAPL alone" in a and "1.5 shares is fractional" in a for a in alerts), alerts
    assert {p.symbol: p.qty for p in store.positions("paper") if p.qty} == {"SPY": 40}
    assert store.get_risk_state("paper").halted is False, "trading goes on for everything else"
    assert Reconciler(store, broker, gate, alert=alerts.append).run(now) == []  # and it stays reconciled


def test_orders_made_by_hand_that_the_system_cannot_hold_are_skipped_with_an_alert(
    alpaca: FakeAlpaca, broker: AlpacaBroker
) -> None:
    broker.submit(ours())
    by_hand(alpaca, "dashboard-notional", "AAPL", "0.25")
    by_hand(alpaca, "dashboard-stop", "MSFT", "3", kind="stop")  # whole shares: reconciliation adopts it
    listed = {o.client_order_id for o in broker.open_orders()}
    assert listed == {COID, "dashboard-stop"}
    alerts = broker.alerts  # type: ignore[attr-defined]
    assert len(alerts) == 1
    assert "dashboard-notional" in alerts[0]
    assert "fractional" in alerts[0]


def test_the_catch_up_skips_a_fractional_fill_and_forwards_the_rest(alpaca: FakeAlpaca, broker: AlpacaBroker) -> None:
    broker.submit(ours())
    by_hand(alpaca, "dashboard-notional", "AAPL", "0.25")
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    alpaca.fill("dashboard-notional", 1, "190.00", at=t0)  # then made fractional, as Alpaca reports it
    alpaca.activities[-1] |= {"qty": "0.25", "cum_qty": "0.25", "leaves_qty": "0"}
    alpaca.orders["dashboard-notional"] |= {"filled_qty": "0.25"}
    alpaca.fill(COID, 10, "624.40", at=t0 + timedelta(seconds=1))
    forwarded: list[str] = []
    stream = AlpacaTradeStream(
        TradeStreamSettings("ws://unused"), lambda u: forwarded.append(u.client_order_id), broker
    )
    updates = stream.catch_up()
    assert [u.client_order_id for u in updates if u.execution is not None] == [COID]
    assert stream.stats.catch_ups == 1, "the window advances: it is not read again"
    assert any("catch-up skips fill activity" in a for a in broker.alerts), broker.alerts  # type: ignore[attr-defined]
