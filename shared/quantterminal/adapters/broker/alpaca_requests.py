"""An ``Order`` as the alpaca-py request that places it natively at Alpaca.

Every type the kernel's order model has is an Alpaca order type (market, limit, stop, stop-limit,
trailing stop); ``time_in_force`` is Alpaca's own (day, gtc, ioc). An entry's exit legs become an
Alpaca order class, so the protection is held at the broker while our functions sleep: both legs
are a ``bracket``, one leg is ``oto`` (one-triggers-other: Alpaca refuses a bracket with one leg,
"bracket orders require take_profit.limit_price"). The take-profit leg is a limit order, the
stop-loss a stop order. A position's one-cancels-other exit (``Order.oco``) is Alpaca's ``oco``
class: a limit order at the take-profit whose one leg is the stop-loss (Alpaca's "OCO & OTO
Orders" announcement shows the request). A trailing stop's ``trail_bps`` is sent as ``trail_percent`` (100 bps = 1%);
Alpaca takes trailing stops only as single orders, never as a leg (alpacahq/Alpaca-API#233).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from alpaca.trading.enums import OrderClass, OrderSide
from alpaca.trading.enums import TimeInForce as AlpacaTimeInForce
from alpaca.trading.requests import (
    LimitOrderRequest,
    MarketOrderRequest,
    OrderRequest,
    StopLimitOrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
    TrailingStopOrderRequest,
)

from quantterminal.core.accounting.orders import Order, OrderType
from quantterminal.core.models import Side
from quantterminal.core.trading.broker import BrokerRejected


def order_request(order: Order) -> OrderRequest:
    """The request that places ``order`` at Alpaca (``BrokerRejected`` for a leg on its own: legs
    are placed with their entry, in one request)."""
    if order.parent is not None:
        raise BrokerRejected(f"{order.client_order_id}: an exit leg is placed with its entry, not on its own")
    common: dict[str, Any] = {
        "symbol": order.symbol,
        "qty": order.qty,
        "side": OrderSide.BUY if order.side is Side.BUY else OrderSide.SELL,
        "time_in_force": AlpacaTimeInForce(order.time_in_force.value),
        "client_order_id": order.client_order_id,
    }
    take, loss = order.take_profit, order.stop_loss
    if order.oco:  # an exit of a held position: the order is the take-profit limit, its leg the stop-loss
        common["order_class"] = OrderClass.OCO
        common["take_profit"] = TakeProfitRequest(limit_price=_price(order.limit_price))
        common["stop_loss"] = StopLossRequest(stop_price=_price(loss))
    elif take is not None or loss is not None:
        common["order_class"] = OrderClass.BRACKET if take is not None and loss is not None else OrderClass.OTO
        if take is not None:
            common["take_profit"] = TakeProfitRequest(limit_price=_price(take))
        if loss is not None:
            common["stop_loss"] = StopLossRequest(stop_price=_price(loss))
    kind = order.order_type
    if kind is OrderType.MARKET:
        return MarketOrderRequest(**common)
    if kind is OrderType.LIMIT:
        return LimitOrderRequest(limit_price=_price(order.limit_price), **common)
    if kind is OrderType.STOP:
        return StopOrderRequest(stop_price=_price(order.stop_price), **common)
    if kind is OrderType.STOP_LIMIT:
        stop, limit = _price(order.stop_price), _price(order.limit_price)
        return StopLimitOrderRequest(stop_price=stop, limit_price=limit, **common)
    if order.trail_bps is None:
        raise BrokerRejected(f"{order.client_order_id}: a trailing stop needs its distance (trail_bps)")
    return TrailingStopOrderRequest(trail_percent=float(order.trail_bps / 100), **common)


def _price(value: Decimal | None) -> float:
    """A price as alpaca-py's request models take it (they are floats; a cent price survives)."""
    if value is None:
        raise BrokerRejected("an order of this type needs its price")
    return float(value)
