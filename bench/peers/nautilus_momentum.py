"""NautilusTrader's side of bench/nautilus_peer.py: the momentum strategy (SMA 10/30 on the close,
long 10% of equity while fast > slow, flat otherwise) on one CSV of minute bars, as a Python
strategy on NautilusTrader's BacktestEngine. Prints one JSON line: bars, orders, positions."""

import json
import sys

import pandas as pd
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig, StrategyConfig
from nautilus_trader.indicators import SimpleMovingAverage
from nautilus_trader.model import BarType, InstrumentId, Money, Venue
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide
from nautilus_trader.model.objects import Quantity
from nautilus_trader.persistence.wranglers import BarDataWrangler
from nautilus_trader.test_kit.providers import TestInstrumentProvider
from nautilus_trader.trading.strategy import Strategy


class MomentumConfig(StrategyConfig, frozen=True):
    instrument_id: str
    bar_type: str
    fast: int = 10
    slow: int = 30
    fraction: float = 0.1


class Momentum(Strategy):
    def __init__(self, config: MomentumConfig) -> None:
        super().__init__(config)
        self.fast = SimpleMovingAverage(config.fast)
        self.slow = SimpleMovingAverage(config.slow)
        self.orders = 0

    def on_start(self) -> None:
        self.instrument_id = InstrumentId.from_str(self.config.instrument_id)
        bar_type = BarType.from_str(self.config.bar_type)
        self.register_indicator_for_bars(bar_type, self.fast)
        self.register_indicator_for_bars(bar_type, self.slow)
        self.subscribe_bars(bar_type)

    def on_bar(self, bar) -> None:
        if not self.slow.initialized:
            return
        flat = self.portfolio.is_flat(self.instrument_id)
        if self.fast.value > self.slow.value:
            if flat:
                cash = self.portfolio.account(self.instrument_id.venue).balance_total(USD).as_double()
                qty = int(self.config.fraction * cash / bar.close.as_double())
                if qty > 0:
                    self.submit_order(
                        self.order_factory.market(self.instrument_id, OrderSide.BUY, Quantity.from_int(qty))
                    )
                    self.orders += 1
        elif not flat:
            self.close_all_positions(self.instrument_id)
            self.orders += 1


def main() -> None:
    path, symbol = sys.argv[1], sys.argv[2]
    frame = pd.read_csv(path, index_col="timestamp")
    frame.index = pd.to_datetime(frame.index, utc=True, format="ISO8601")
    instrument = TestInstrumentProvider.equity(symbol=symbol, venue="XNAS")
    bar_type = BarType.from_str(f"{instrument.id}-1-MINUTE-LAST-EXTERNAL")
    bars = BarDataWrangler(bar_type, instrument).process(frame)
    engine = BacktestEngine(BacktestEngineConfig(logging=LoggingConfig(log_level="ERROR")))
    engine.add_venue(Venue("XNAS"), OmsType.NETTING, AccountType.CASH, [Money(100_000, USD)], base_currency=USD)
    engine.add_instrument(instrument)
    engine.add_data(bars)
    strategy = Momentum(MomentumConfig(instrument_id=str(instrument.id), bar_type=str(bar_type)))
    engine.add_strategy(strategy)
    engine.run()
    positions = len(engine.cache.positions())
    print(json.dumps({"bars": len(bars), "orders": strategy.orders, "positions": positions}))
    engine.dispose()


if __name__ == "__main__":
    main()
