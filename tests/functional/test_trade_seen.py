"""What a strategy sees of its trade in a backtest is the kernel's books at the bar's close: the
fills worked up to and during that bar, none after (no look-ahead), priced exactly."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from quantterminal.core.accounting.state import PositionState
from quantterminal.core.models import Bar
from quantterminal.core.simulation.backtest import BacktestConfig
from quantterminal.core.strategies import StrategyInstance, strategy_class
from quantterminal.core.trading.config import TradingConfig
from quantterminal.wiring.backtest import run_backtest
from tests.user_strategies import trade_probe
from tests.user_strategies.trade_probe import TradeProbe

MINUTE = timedelta(minutes=1)
EXITS = {"stop_loss_bps": 10, "take_profit_bps": 15, "max_minutes": 30}


def test_the_trade_a_backtested_strategy_sees_is_the_books_at_its_bars_close(spy_2011_rth: list[Bar]) -> None:
    probe = StrategyInstance.of(TradeProbe, params=EXITS)
    trade_probe.SEEN.clear()
    # passive limits (2 bps through the close) leave some orders resting past the next bar
    trading = TradingConfig(limit_offset_bps=Decimal(-2), cancel_after_seconds=150)
    result = run_backtest(BacktestConfig((probe,), trading=trading), {"SPY": spy_2011_rth[:3000]})
    seen = list(trade_probe.SEEN)
    assert len(seen) == 3000
    assert len(result.fills) > 50
    closes = {b.timestamp: Decimal(str(b.close)) for b in spy_2011_rth}
    fills = sorted(result.fills, key=lambda f: (f.timestamp, f.execution_id))
    book, taken = PositionState("backtest", probe.name, "SPY"), 0
    placed = {(o.created_at, o.side, o.qty): o for o in result.orders}
    with_working = 0
    for symbol, ts, qty, avg, entered, unrealized, realized, working in seen:
        while taken < len(fills) and fills[taken].timestamp < ts + MINUTE:  # filled before this bar closed
            f = fills[taken]
            book = book.apply_fill(f.side, f.qty, f.price, f.timestamp, f.execution_id)
            taken += 1
        assert (symbol, qty, avg, entered) == ("SPY", book.qty, book.avg_price, book.opened_at)
        assert realized == book.realized_pnl
        assert unrealized == (qty * (closes[ts] - avg) if qty else 0)
        for placed_at, side, size, filled in working:  # decided before this bar closed, not yet done
            decided = placed[(placed_at, side, size)].decision_time
            assert decided is not None
            assert decided < ts
            assert filled < size
        with_working += bool(working)
    assert with_working > 0, "some limit orders were still resting at a bar's close"


def test_a_trade_aware_strategy_changes_nothing_for_the_others_beside_it(spy_2011_rth: list[Bar]) -> None:
    """Reading positions first for one instance leaves another's run as it was alone."""
    bars = {"SPY": spy_2011_rth[:2000]}
    alone = run_backtest(BacktestConfig(("momentum",)), bars)
    probe = replace(StrategyInstance.of(TradeProbe, params=EXITS), allocation=Decimal("0.5"))
    mom = replace(StrategyInstance.of(strategy_class("momentum")), allocation=Decimal("0.5"))
    both = run_backtest(BacktestConfig((mom, probe)), bars)
    ours = [o for o in both.orders if o.strategy == "momentum"]
    assert [(o.client_order_id, o.side) for o in ours] == [(o.client_order_id, o.side) for o in alone.orders]
    assert len(ours) > 10
    assert any(o.strategy == probe.name for o in both.orders)
