"""vectorbt's side of bench/peers.py: the momentum rule (SMA 10/30 on the close: enter when the
fast crosses above the slow, leave when it crosses below, 10% of cash an entry) on one CSV of
minute bars, vectorised, as a vectorbt user writes it. Prints one JSON line: bars, orders, trades."""

import json
import sys

import pandas as pd
import vectorbt as vbt


def main() -> None:
    frame = pd.read_csv(sys.argv[1], index_col="timestamp")
    frame.index = pd.to_datetime(frame.index, utc=True, format="ISO8601")
    close = frame["close"]
    fast, slow = vbt.MA.run(close, 10), vbt.MA.run(close, 30)
    portfolio = vbt.Portfolio.from_signals(
        close,
        entries=fast.ma_crossed_above(slow),
        exits=fast.ma_crossed_below(slow),
        size=0.1,
        size_type="percent",
        init_cash=100_000,
        freq="1min",
    )
    orders, trades = int(portfolio.orders.count()), int(portfolio.trades.count())
    print(json.dumps({"bars": len(close), "orders": orders, "trades": trades}))


if __name__ == "__main__":
    main()
