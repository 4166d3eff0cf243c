"""The simulated venue's stops and brackets fill as backtrader fills them, on the same real bars:
backtrader asked for exactly our rules (market orders at the next open, no slippage, no
commission, any size; a bracket's legs from the bar after the entry; a stop through which the bar
opened fills at the open), every order and fill compared."""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import backtrader as bt
import pandas as pd

from quantterminal.adapters.broker.simulated_broker import SimulatedBroker, SimulatorConfig
from quantterminal.core.accounting.orders import Order, OrderType, TimeInForce
from quantterminal.core.models import Bar, Side
from quantterminal.core.simulation.fill_model import FillModel

CENT = Decimal("0.01")
EVERY = 13  # a new trade is considered on every 13th bar, when flat
SIZE = 10


def cents(x: float) -> Decimal:
    return Decimal(str(x)).quantize(CENT, rounding=ROUND_HALF_UP)


def exits(close: float, i: int) -> tuple[Decimal, Decimal, bool]:
    """The take-profit and stop-loss of a trade opened at bar ``i`` (widths vary), and whether it is long."""
    width = Decimal(("0.0008", "0.0015", "0.0030")[i % 3])
    price = cents(close)
    long = (i // EVERY) % 2 == 0
    up, down = cents(float(price * (1 + width))), cents(float(price * (1 - width)))
    return (up, down, long) if long else (down, up, long)


def ours(bars: list[Bar]) -> tuple[list[tuple[int, str, int, Decimal]], SimulatedBroker]:
    broker = SimulatedBroker(SimulatorConfig(fills=FillModel(participation=None)), start=bars[0].timestamp)
    broker.on_update(lambda update: None)
    index = {b.timestamp: i for i, b in enumerate(bars)}
    for i, b in enumerate(bars):
        broker.on_bar(b)
        if i % EVERY == 0 and not broker.positions() and not broker.open_orders():
            take, stop, long = exits(b.close, i)
            side = Side.BUY if long else Side.SELL
            broker.submit(
                Order(f"e{i}", "s", b.symbol, side, SIZE, OrderType.MARKET, b.timestamp, cents(b.close),
                      take_profit=take, stop_loss=stop, time_in_force=TimeInForce.GTC)
            )  # fmt: skip
    out = []
    for f in broker.fills:
        at = index[f.timestamp.replace(microsecond=0) - timedelta(seconds=f.timestamp.second)]
        out.append((at, f.side.value, f.qty, f.price))
    return out, broker


class _Brackets(bt.Strategy):  # type: ignore[misc]
    def __init__(self) -> None:
        self.fills: list[tuple[int, str, int, Decimal]] = []

    def next(self) -> None:
        i = len(self) - 1
        if i % EVERY == 0 and not self.position and not any(o.alive() for o in self.broker.orders):
            take, stop, long = exits(self.data.close[0], i)
            place = self.buy_bracket if long else self.sell_bracket
            place(exectype=bt.Order.Market, size=SIZE, limitprice=float(take), stopprice=float(stop))

    def notify_order(self, order: bt.Order) -> None:
        if order.status == order.Completed:
            side = "buy" if order.isbuy() else "sell"
            self.fills.append((len(self) - 1, side, abs(int(order.executed.size)), cents(order.executed.price)))


def backtraders(bars: list[Bar]) -> list[tuple[int, str, int, Decimal]]:
    frame = pd.DataFrame(
        [(b.open, b.high, b.low, b.close, b.volume) for b in bars],
        columns=["open", "high", "low", "close", "volume"],
        index=pd.DatetimeIndex([b.timestamp.replace(tzinfo=None) for b in bars]),
    )
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=frame))
    cerebro.addstrategy(_Brackets)
    cerebro.broker.setcash(10_000_000)
    (strategy,) = cerebro.run()
    return list(strategy.fills)


def test_brackets_fill_as_backtrader_fills_them_on_real_minute_bars(spy_2011_rth: list[Bar]) -> None:
    bars = spy_2011_rth
    (mine, broker), theirs = ours(bars), backtraders(bars)
    assert mine == theirs
    # and the comparison covered every rule: both legs, and stops gapped through overnight
    legs = {o.client_order_id: o for o in broker.all_orders() if o.parent is not None}
    by_leg = [(legs[f.order_id], f.price) for f in broker.fills if f.order_id in legs]
    stopped = [(o, price) for o, price in by_leg if o.order_type is OrderType.STOP]
    assert len(by_leg) > 50
    assert len(stopped) > 10
    assert len(by_leg) - len(stopped) > 10
    assert any(price != o.stop_price for o, price in stopped), "a stop filled at an open that gapped through it"
