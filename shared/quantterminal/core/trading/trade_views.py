"""Each strategy instance's trade as the kernel's state holds it, for the strategies that read it
(``Strategy.uses_trade``): built from the stored positions and open orders the desk reads for a
bar, marked at that bar's close (``core.strategies.trade_view``). One function for every
environment, so a strategy sees the same thing in the backtest, the paper run and the Lambdas."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from quantterminal.core.accounting.orders import Order
from quantterminal.core.accounting.state import PositionState
from quantterminal.core.models import Bar
from quantterminal.core.money import ZERO, to_decimal
from quantterminal.core.strategies.trade_view import TradeView, WorkingOrder, trade_view

_NEVER = datetime.min.replace(tzinfo=UTC)  # an order with no time sorts first


def working_orders(orders: Iterable[Order], strategy: str, symbol: str) -> tuple[WorkingOrder, ...]:
    """``strategy``'s orders in ``symbol`` that have not finished, oldest first."""
    mine = [o for o in orders if o.strategy == strategy and o.symbol == symbol and not o.status.terminal]
    mine.sort(key=lambda o: (o.created_at or o.decision_time or _NEVER, o.client_order_id))
    return tuple(
        WorkingOrder(
            o.side,
            o.qty,
            o.filled_qty,
            o.order_type.value,
            o.limit_price,
            o.created_at,
            o.stop_price,
        )
        for o in mine
    )


def trade_views(
    names: Iterable[str],
    bar: Bar,
    positions: Mapping[str, PositionState],
    open_orders: Sequence[Order],
) -> dict[str, TradeView]:
    """The trade of each of ``names`` in ``bar.symbol`` at ``bar``'s close: its stored position
    (``positions``, by instance name; missing: flat) and its working orders among ``open_orders``."""
    close = to_decimal(bar.close)
    out = {}
    for name in names:
        position = positions.get(name)
        working = working_orders(open_orders, name, bar.symbol) if open_orders else ()
        if position is None:
            out[name] = trade_view(0, None, None, ZERO, close, working)
            continue
        out[name] = trade_view(
            position.qty, position.avg_price, position.opened_at, position.realized_pnl, close, working
        )
    return out
