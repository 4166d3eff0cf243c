"""The backtest through the one kernel: the fill model's rules, sizing, the risk manager's
refusals, limit-order cancels, and the no-look-ahead guarantee."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantterminal.adapters.broker.simulated_broker import SimulatorConfig
from quantterminal.core.accounting.orders import OrderType
from quantterminal.core.market_data.data_checks import merge_bars
from quantterminal.core.models import Bar, Direction, Side
from quantterminal.core.risk.manager import RiskLimits
from quantterminal.core.simulation import backtest as backtest_module
from quantterminal.core.simulation.backtest import BacktestConfig, BacktestResult
from quantterminal.core.simulation.execution import BpsSlippage, PerShareCommission
from quantterminal.core.simulation.fill_model import FillModel
from quantterminal.core.strategies import STRATEGIES, StrategyError
from quantterminal.core.trading.config import TradingConfig
from quantterminal.wiring.backtest import run_backtest
from tests.helpers import bar, bars_from_closes, minute

D = Decimal
# momentum with fast=1, slow=2 wants LONG after any up-close and FLAT after a down-close.
FAST = {"fast": 1, "slow": 2}
FULL_FILLS = FillModel(participation=None)
TEN_PERCENT, NO_OFFSET = D("0.10"), D(0)
LATENCY = SimulatorConfig().latency  # an order placed at a bar's close is worked that long into the next bar


def backtest(
    bars: list[Bar] | dict[str, list[Bar]],
    fraction: Decimal = TEN_PERCENT,
    order_type: OrderType = OrderType.MARKET,
    limit_offset_bps: Decimal = NO_OFFSET,
    params: dict[str, object] | None = None,
    fills: FillModel = FULL_FILLS,
    **overrides: object,
) -> BacktestResult:
    """Momentum(1, 2) with market orders and fills ignoring volume unless asked otherwise; the
    position limit follows the sizing fraction."""
    trading = TradingConfig(
        position_fraction=fraction,
        type=order_type,
        limit_offset_bps=limit_offset_bps,
        risk=RiskLimits(position_limit=fraction),
    )
    config = BacktestConfig(("momentum",), params={"momentum": params or FAST}, trading=trading, fills=fills)
    config = dataclasses.replace(config, **overrides)  # type: ignore[arg-type]
    data = bars if isinstance(bars, dict) else {bars[0].symbol: bars}
    return run_backtest(config, data)


def test_decision_on_close_fills_at_next_bar_open() -> None:
    bars = [
        bar(0, 100.0),
        bar(1, 101.0, open_=100.5),  # up-close: decide LONG on this close
        bar(2, 103.0, open_=101.5),  # fills here, at the open 101.50
        bar(3, 102.0, open_=102.5),  # down-close: decide FLAT
        bar(4, 104.0, open_=102.25),  # sells at the open 102.25
    ]
    result = backtest(bars, cash=D(10_000), fraction=D("0.5"))
    buy, sell = result.fills
    assert (buy.timestamp, buy.side, buy.price) == (minute(2) + LATENCY, Side.BUY, D("101.5"))
    assert buy.qty == 49  # floor(0.5 × 10000 / 101.00): sized at the decision close
    assert (sell.timestamp, sell.side, sell.qty, sell.price) == (minute(4) + LATENCY, Side.SELL, 49, D("102.25"))
    (trade,) = result.trades
    assert trade.pnl == (D("102.25") - D("101.5")) * 49
    assert result.final_cash == D(10_000) + trade.pnl
    assert result.final_equity == result.final_cash
    assert [s.direction for s in result.signals] == [Direction.LONG, Direction.FLAT, Direction.LONG]
    assert result.not_filled[-1].reason == "data ended before execution"


def test_slippage_and_commission_apply_to_market_fills() -> None:
    bars = [
        bar(0, 100.0),
        bar(1, 101.0),
        bar(2, 101.0, open_=100.0),
        bar(3, 100.0),
        bar(4, 99.0, open_=100.0),
    ]
    result = backtest(
        bars,
        cash=D(10_000),
        fraction=D("0.5"),
        fills=FillModel(BpsSlippage(D(10)), PerShareCommission(D("0.01"), D("1.00")), None),
    )
    buy, sell = result.fills
    assert buy.price == D("100.10")
    assert sell.price == D("99.90")
    assert buy.commission == sell.commission == D("1.00")  # 49 × $0.01 < $1 minimum
    assert result.trades[0].pnl == (D("99.90") - D("100.10")) * 49 - D("2.00")


def test_limit_buy_fills_at_better_of_open_and_limit_only_if_reached() -> None:
    base = [
        bar(0, 100.0),
        bar(1, 101.0),
    ]  # decide LONG at 101.00; limit = 101.00 − 0.5 % = 100.49 (rounded down)
    reached = [*base, bar(2, 100.8, open_=100.9, high=101.0, low=100.2)]
    result = backtest(reached, order_type=OrderType.LIMIT, limit_offset_bps=D(-50))
    assert result.orders[0].limit_price == D("100.49")
    assert result.fills[0].price == D("100.49")  # min(open 100.90, limit 100.49)

    gapped_down = [*base, bar(2, 99.0, open_=99.5, high=99.8, low=98.9)]
    result = backtest(gapped_down, order_type=OrderType.LIMIT, limit_offset_bps=D(-50))
    assert result.fills[0].price == D("99.5")  # opened through the limit: fills at the open

    missed = [*base, bar(2, 101.2, open_=101.0, high=101.3, low=100.6), bar(3, 101.3), bar(4, 101.4)]
    result = backtest(missed, order_type=OrderType.LIMIT, limit_offset_bps=D(-50))
    assert result.fills == []
    # not reached on bar 2, canceled after 30 s (at bar 2's close); once the cancel is confirmed
    # (bar 3) the kernel orders again while the strategy still wants the position
    assert (result.not_filled[0].rule, result.not_filled[0].reason) == ("canceled", "not filled within 30 s: canceled")
    assert [o.decision_time for o in result.orders] == [minute(1), minute(3)]


def test_limit_sell_fills_at_max_of_open_and_limit() -> None:
    bars = [
        bar(0, 100.0),
        bar(1, 101.0),
        bar(2, 102.0, open_=101.0),
        bar(3, 101.0),
        bar(4, 101.5, open_=101.2, high=101.6, low=100.0),
    ]
    result = backtest(bars, order_type=OrderType.LIMIT, limit_offset_bps=D(20))
    sell = result.fills[-1]
    assert sell.side is Side.SELL
    (sell_order,) = [o for o in result.orders if o.side is Side.SELL]
    assert sell_order.limit_price == D("100.80")  # 101 × (1 − 0.002) rounded up
    assert sell.price == D("101.2")  # max(open, limit)


def test_the_risk_manager_refuses_in_a_backtest_and_the_refusals_are_counted_by_rule() -> None:
    # Two symbols each sized at 60% of equity: the first entry leaves 40% of the cash, so the
    # second is refused for buying power -- and counted once: not asked again while wanted, and
    # after the first entry's fill released its reservation, sized again it still does not fit.
    spy = [bar(0, 100.0), bar(1, 101.0), bar(2, 102.0), bar(3, 103.0)]
    qqq = [bar(0, 50.0, "QQQ"), bar(1, 51.0, "QQQ"), bar(2, 52.0, "QQQ"), bar(3, 53.0, "QQQ")]
    result = backtest({"QQQ": qqq, "SPY": spy}, fraction=D("0.6"))
    assert [o.symbol for o in result.orders] == ["QQQ"]
    assert {o.order.symbol for o in result.refused} == {"SPY"}
    assert result.refusals_by_rule() == {"buying_power": 1}
    assert "exceeds buying power" in result.refused[0].reason


def test_the_daily_loss_halt_stops_new_entries_for_the_day() -> None:
    # Long 50% of equity, then a 12% fall: equity is 6% down, past the 5% daily loss limit.
    closes = [100.0, 101.0, 102.0, 89.0, 90.0, 91.0, 92.0]
    bars = [bar(i, c) for i, c in enumerate(closes)]
    result = backtest(bars, fraction=D("0.5"))
    (buy, sell) = result.fills[:2]
    assert (buy.side, sell.side) == (Side.BUY, Side.SELL)  # the exit passes the halt
    # the re-entry after the fall does not, and is not asked again that day while nothing changes
    assert result.refusals_by_rule() == {"daily_loss": 1}
    assert len(result.fills) == 2


def test_held_position_is_not_resized_while_direction_holds() -> None:
    closes = [100.0, 101.0, 102.0, 103.0, 104.0, 105.0]
    result = backtest(bars_from_closes(closes))
    assert len(result.fills) == 1
    assert result.open_positions == {"SPY": 99}  # floor(0.1 × 100000 / 101)
    assert result.final_equity == D(100_000) + 99 * (D(105) - D(102))


def test_short_entry_and_cover_when_allowed() -> None:
    closes = [100.0, 99.0, 98.0, 99.0, 100.0]
    result = backtest(bars_from_closes(closes), params={**FAST, "allow_short": True})
    # short 101 = floor(10000 / 99) at bar 2's open (98); at bar 3's close (99) equity is
    # 100000 − 101 and the flip buys 101 to cover plus floor(9989.9 / 99) = 100, at bar 4's open.
    assert [(f.side, f.qty, f.price) for f in result.fills] == [
        (Side.SELL, 101, D(98)),
        (Side.BUY, 201, D(100)),
    ]
    assert result.trades[0].side is Direction.SHORT
    assert result.trades[0].pnl == (D(98) - D(100)) * 101
    assert result.open_positions == {"SPY": 100}


def test_bars_of_many_symbols_are_merged_in_time_then_symbol_order() -> None:
    spy = bars_from_closes([100.0, 101.0, 102.0], "SPY")
    qqq = bars_from_closes([50.0, 51.0, 52.0], "QQQ")
    merged = merge_bars({"SPY": spy, "QQQ": qqq})
    assert [(b.symbol, b.timestamp) for b in merged] == [(s, minute(i)) for i in range(3) for s in ("QQQ", "SPY")]
    result = backtest({"SPY": spy, "QQQ": qqq})
    assert {f.symbol for f in result.fills} == {"SPY", "QQQ"}
    assert len(result.equity_curve) == 3


def test_unsorted_or_mislabelled_bars_are_refused() -> None:
    spy = bars_from_closes([100.0, 101.0])
    with pytest.raises(ValueError, match="not strictly increasing"):
        merge_bars({"SPY": [spy[1], spy[0]]})
    with pytest.raises(ValueError, match="bar for SPY found among bars of QQQ"):
        merge_bars({"QQQ": spy})


def test_bad_config_is_refused() -> None:
    with pytest.raises(ValueError, match="cash must be positive"):
        BacktestConfig(("momentum",), cash=D(0))
    with pytest.raises(ValueError, match="names must be unique: momentum named twice"):
        BacktestConfig(("momentum", "momentum"))
    with pytest.raises(ValueError, match="parameters for strategies not run: breakout"):
        BacktestConfig(("momentum",), params={"breakout": {}})
    with pytest.raises(StrategyError, match="unknown strategy"):
        BacktestConfig(("nope",))
    for fraction in (D("1.5"), D(0)):
        with pytest.raises(ValueError, match="position fraction must be in"):
            TradingConfig(position_fraction=fraction)


def test_same_run_twice_gives_identical_results(lean_2013_rth: dict[str, list[Bar]]) -> None:
    for name in STRATEGIES:
        config = BacktestConfig((name,))
        a, b = run_backtest(config, lean_2013_rth), run_backtest(config, lean_2013_rth)
        assert (a.fills, a.trades, a.equity_curve, a.final_equity) == (
            b.fills,
            b.trades,
            b.equity_curve,
            b.final_equity,
        )


def test_progress_is_reported_in_chunks_up_to_the_total() -> None:
    closes = [100.0 + (i % 40) * 0.1 for i in range(70_000)]
    seen: list[tuple[int, int]] = []
    run_backtest(
        BacktestConfig(("momentum",)),
        {"SPY": bars_from_closes(closes)},
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen == [(65_536, 70_000), (70_000, 70_000)]


# --- no look-ahead ---------------------------------------------------------------------------------


def _perturb(b: Bar, factor: float) -> Bar:
    o, c = round(b.open * factor, 2), round(b.close * factor * 1.001, 2)
    return dataclasses.replace(
        b,
        open=o,
        close=c,
        high=max(o, c, round(b.high * factor, 2)),
        low=min(o, c, round(b.low * factor, 2)),
        volume=b.volume * 2,
    )


@pytest.mark.parametrize("name", sorted(STRATEGIES))
@given(data=st.data())
def test_changing_bars_after_t_never_changes_a_decision_at_or_before_t(
    name: str, lean_2013_rth: dict[str, list[Bar]], data: st.DataObject
) -> None:
    bars = {s: b[:300] for s, b in lean_2013_rth.items()}
    times = sorted({x.timestamp for b in bars.values() for x in b})
    t = times[data.draw(st.integers(0, len(times) - 2), label="t index")]
    factor = data.draw(st.floats(0.5, 2.0), label="factor")
    changed = {s: [x if x.timestamp <= t else _perturb(x, factor) for x in b] for s, b in bars.items()}
    config = BacktestConfig((name,), params={name: {"allow_short": True}})

    original, future_changed = run_backtest(config, bars), run_backtest(config, changed)

    def upto(result: BacktestResult) -> tuple[object, ...]:
        return (
            [s for s in result.signals if s.bar_time <= t],
            [o for o in result.orders if o.decision_time <= t],
            [f for f in result.fills if f.timestamp <= t],
            [p for p in result.equity_curve if p[0] <= t],
        )

    assert upto(original) == upto(future_changed)


def test_the_perturbation_above_does_change_later_decisions(lean_2013_rth: dict[str, list[Bar]]) -> None:
    """Guards the look-ahead test against passing vacuously."""
    bars = {s: b[:300] for s, b in lean_2013_rth.items()}
    t = sorted({x.timestamp for b in bars.values() for x in b})[100]
    changed = {s: [x if x.timestamp <= t else _perturb(x, 0.7) for x in b] for s, b in bars.items()}
    config = BacktestConfig(("mean_reversion",), params={"mean_reversion": {"allow_short": True}})
    assert run_backtest(config, bars).signals != run_backtest(config, changed).signals


def test_skipping_quiet_bars_changes_nothing(
    lean_2013_rth: dict[str, list[Bar]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backtest asks the kernel only about bars where something can happen; asked about every
    bar, the kernel gives the same signals, orders, refusals, fills and equity."""
    config = BacktestConfig(tuple(STRATEGIES), params={n: {"allow_short": True} for n in STRATEGIES})
    skipping = run_backtest(config, lean_2013_rth)
    monkeypatch.setattr(backtest_module, "SKIP_QUIET", False)
    every_bar = run_backtest(config, lean_2013_rth)
    assert len(skipping.orders) > 50
    for field in ("signals", "orders", "refused", "fills", "not_filled", "equity_curve", "final_equity"):
        assert getattr(skipping, field) == getattr(every_bar, field), field
