"""A strategy that reads its trade and writes down what it saw at every bar (tests compare what
each environment showed it). Test-only: it keeps a module-level record, which a real strategy
must never do."""

from __future__ import annotations

from quantterminal import Bar, Direction
from quantterminal.examples.trend_with_exits import TrendWithExits

SEEN: list[tuple[object, ...]] = []


class TradeProbe(TrendWithExits):
    """``TrendWithExits``, recording ``self.trade`` before each decision."""

    name = "trade_probe"

    def on_bar(self, bar: Bar) -> Direction | None:
        t = self.trade
        working = tuple((w.placed_at, w.side, w.qty, w.filled_qty) for w in t.working)
        position = (t.qty, t.avg_entry_price, t.entry_time, t.unrealized_pnl, t.realized_pnl)
        SEEN.append((self.symbol, bar.timestamp, *position, working))
        return super().on_bar(bar)
