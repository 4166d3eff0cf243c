"""An instance's own equity at each session close: what its Sharpe and drawdown are measured on
where the sessions' closes are at hand (``post_trade.strategy_results``), so an instance alone on
its account has the account's figures (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal

from quantterminal.core.accounting.portfolio import Position
from quantterminal.core.market_data.calendar import SessionRule
from quantterminal.core.market_data.data_checks import bar_interval
from quantterminal.core.market_data.sessions import day_bounds, session_date
from quantterminal.core.models import Bar, Fill
from quantterminal.core.money import ZERO, to_decimal

Closes = Mapping[date, Mapping[str, Decimal]]  # each session's last close of each symbol


def session_closes(bars_by_symbol: Mapping[str, Sequence[Bar]]) -> dict[date, dict[str, Decimal]]:
    """Each session's last regular-hours close of each symbol (a daily bar is its session's close)."""
    regular = SessionRule().in_regular_session
    out: dict[date, dict[str, Decimal]] = {}
    for symbol, bars in bars_by_symbol.items():
        whole = bar_interval(bars) >= timedelta(days=1)
        for bar in bars:
            if whole or regular(bar.timestamp):
                out.setdefault(session_date(bar.timestamp), {})[symbol] = to_decimal(bar.close)
    return out


def marked_equity(fills: Sequence[Fill], closes: Closes, base: Decimal) -> list[tuple[date, float]]:
    """An instance's equity at each session close of ``closes``: ``base``, its realised P&L net of
    commissions and its open positions at that session's closes (a symbol with no close that
    session: its last one)."""
    ordered = sorted(fills, key=lambda f: (f.timestamp, f.execution_id))
    positions: dict[str, Position] = {}
    marks: dict[str, Decimal] = {}
    realized, i, out = ZERO, 0, []
    for day in sorted(closes):
        end = day_bounds(day)[1]
        while i < len(ordered) and ordered[i].timestamp < end:
            f = ordered[i]
            realized += positions.setdefault(f.symbol, Position(f.symbol)).apply(f.side, f.qty, f.price) - f.commission
            i += 1
        marks.update(closes[day])
        open_pnl = sum((p.unrealized_pnl(marks[s]) for s, p in positions.items() if p.qty and s in marks), ZERO)
        out.append((day, float(base + realized + open_pnl)))
    return out
