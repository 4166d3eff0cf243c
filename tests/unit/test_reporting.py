"""Post-trade analysis: slippage, execution quality, per-strategy results and the daily report,
checked against figures worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from quantterminal.core.accounting.orders import Order, OrderType, OrderUpdate
from quantterminal.core.accounting.records import EquitySnapshot, RiskEvent
from quantterminal.core.models import Fill, Side
from quantterminal.core.reporting.post_trade import daily_report, execution_quality, slippage_bps, strategy_results
from quantterminal.core.reporting.queries import status_from_events

D = Decimal
T0 = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)  # a Monday, 09:30 New York


def order(coid: str, side: Side, qty: int, decided: datetime, price: str, limit: str | None, strategy: str = "m"):
    return Order(
        coid, strategy, "SPY", side, qty, OrderType.LIMIT if limit else OrderType.MARKET, decided, D(price),
        D(limit) if limit else None,
    )  # fmt: skip


def fill(coid: str, side: Side, qty: int, at: datetime, price: str, n: int, fee: str = "0") -> Fill:
    return Fill("SPY", at, side, qty, D(price), D(fee), coid, f"x{n}")


def test_slippage_is_a_cost_in_bps_for_either_side() -> None:
    assert slippage_bps(Side.BUY, D("100.10"), D("100")) == 10.0
    assert slippage_bps(Side.SELL, D("99.90"), D("100")) == 10.0
    assert slippage_bps(Side.SELL, D("100.10"), D("100")) == -10.0


def test_execution_quality_counts_fills_time_and_weighted_slippage() -> None:
    orders = [
        order("a", Side.BUY, 100, T0, "100", "100.05"),
        order("b", Side.SELL, 50, T0 + timedelta(minutes=5), "101", "100.95"),
        order("c", Side.BUY, 10, T0 + timedelta(minutes=9), "102", "102.05"),  # never filled
    ]
    fills = [
        fill("a", Side.BUY, 60, T0 + timedelta(seconds=65), "100.01", 1),
        fill("a", Side.BUY, 40, T0 + timedelta(seconds=80), "100.02", 2),
        fill("b", Side.SELL, 20, T0 + timedelta(minutes=6, seconds=3), "100.99", 3),  # partial
    ]
    q = execution_quality(orders, fills)
    assert (q.orders, q.filled, q.partially_filled, q.unfilled) == (3, 1, 1, 1)
    assert q.fill_rate == 1 / 3
    assert q.median_seconds_to_fill == 20.0  # decided at the bar's close (T0 + 1 min), last fill 20 s later
    # vs decision: a: (60 x 1 bps + 40 x 2 bps), b: 20 x (101 - 100.99)/101 bps; weighted by shares
    expected = (60 * 1.0 + 40 * 2.0 + 20 * (0.01 / 101 * 10_000)) / 120
    assert abs(q.slippage_bps_vs_decision - expected) < 1e-9
    assert q.slippage_bps_vs_limit is not None
    assert q.slippage_bps_vs_limit < 0


def test_strategy_results_realise_fifo_pnl_net_of_commission() -> None:
    orders = [order("in", Side.BUY, 10, T0, "100", None), order("out", Side.SELL, 10, T0, "100", None)]
    fills = [
        fill("in", Side.BUY, 10, T0 + timedelta(minutes=1), "100", 1, "1"),
        fill("out", Side.SELL, 10, T0 + timedelta(minutes=30), "101.5", 2, "1"),
    ]
    (result,) = strategy_results(orders, fills, D(100_000), ["m"]).values()
    assert result.realized_pnl == D("13.0")
    assert (result.round_trips, result.win_rate, result.avg_trade) == (1, 1.0, D("13.0"))
    assert result.execution.fill_rate == 1.0


def test_the_daily_report_of_a_day_with_trades_rejects_and_an_alert() -> None:
    day = date(2024, 3, 4)
    curve = [
        EquitySnapshot("paper", T0 - timedelta(days=3), D("100000"), D("100000")),  # the Friday before
        EquitySnapshot("paper", T0, D("100000"), D("100000")),
        EquitySnapshot("paper", T0 + timedelta(hours=6), D("100013"), D("100013")),
    ]
    orders = [order("in", Side.BUY, 10, T0, "100", None), order("out", Side.SELL, 10, T0, "100", None)]
    fills = [
        fill("in", Side.BUY, 10, T0 + timedelta(minutes=1), "100", 1, "1"),
        fill("out", Side.SELL, 10, T0 + timedelta(minutes=30), "101.5", 2, "1"),
    ]
    events = [
        RiskEvent(T0, "paper", "rejection", "no", "m", "SPY", {"rule": "buying_power"}),
        RiskEvent(T0, "paper", "rejection", "no", "m", "SPY", {"rule": "buying_power"}),
        RiskEvent(T0, "paper", "alert", "daily loss limit: ..."),
    ]
    report = daily_report(
        "paper", day, trading_day=True, early_close=False, orders_today=orders, fills_today=fills,
        risk_events_today=events, orders_to_date=orders, fills_to_date=fills, curve_to_date=curve,
    )  # fmt: skip
    assert report.pnl == D("13")
    assert report.rejects == {"buying_power": 2}
    assert report.alerts == ("daily loss limit: ...",)
    assert report.win_rate_to_date == 1.0
    assert report.round_trips_to_date == 1
    data = report.as_dict()
    assert data["pnl"] == "13"
    assert len(data["trades"]) == 2
    text = report.summary()
    assert "P&L +13.00" in text
    assert "buying_power 2" in text
    assert "daily loss limit" in text


def test_a_holiday_report_says_the_market_was_closed() -> None:
    report = daily_report(
        "paper", date(2024, 12, 25), trading_day=False, early_close=False, orders_today=[], fills_today=[],
        risk_events_today=[], orders_to_date=[], fills_to_date=[], curve_to_date=[],
    )  # fmt: skip
    assert "market was closed" in report.summary()


def test_a_finished_orders_status_comes_from_its_events_in_any_order() -> None:
    def ev(name: str, filled: int) -> OrderUpdate:
        return OrderUpdate("a", name, T0, filled)

    assert status_from_events([ev("fill", 10), ev("new", 0)], 10) == "filled"
    assert status_from_events([ev("canceled", 4), ev("partial_fill", 4)], 10) == "canceled"
    assert status_from_events([ev("partial_fill", 4)], 10) == "partially_filled"
    assert status_from_events([], 10) == "new"
