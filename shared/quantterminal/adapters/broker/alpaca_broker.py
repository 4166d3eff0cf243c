"""The Alpaca broker (paper by default), on alpaca-py's ``TradingClient`` and ``TradingStream``.

Keys come from the environment (``APCA_API_KEY_ID``, ``APCA_API_SECRET_KEY``; in AWS they are put
there from Secrets Manager) and are never logged. ``ALPACA_PAPER=false`` trades a live account.

How failures map onto the Broker port:
- 403 (e.g. insufficient buying power) and 422 (invalid order) -> ``BrokerRejected``;
- 429 (rate limit), 5xx, timeouts and dropped connections -> ``BrokerUnavailable``: the order may
  or may not exist, and ``place_order`` looks it up before anything is re-sent;
- a 422 "client_order_id must be unique" means an earlier attempt landed. alpaca-py itself
  re-POSTs on 429/504, so this happens in practice: it is answered with the existing order.
Every request has a timeout (alpaca-py sets none, so a stalled server would hang a decision).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import GetOrdersRequest, LimitOrderRequest, MarketOrderRequest, ReplaceOrderRequest
from requests.adapters import HTTPAdapter

from quantterminal.adapters.aws.secrets import secret_json
from quantterminal.core.models import Execution, Side
from quantterminal.core.trading.broker import (
    BrokerAccount,
    BrokerOrder,
    BrokerPosition,
    BrokerRejected,
    BrokerUnavailable,
)
from quantterminal.core.trading.order_state import OrderUpdate
from quantterminal.core.trading.orders import OrderRequest, OrderType

log = logging.getLogger(__name__)
_UNAVAILABLE = (requests.ConnectionError, requests.Timeout)


class _TimeoutAdapter(HTTPAdapter):
    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


def _dec(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def _ts(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _value(field: Any) -> str:
    return str(getattr(field, "value", field))


def to_broker_order(order: Any) -> BrokerOrder:
    """An alpaca-py ``Order`` (or the REST/stream order dict) as a ``BrokerOrder``."""
    get = order.get if isinstance(order, Mapping) else lambda key, default=None: getattr(order, key, default)
    qty = _dec(get("qty"))
    return BrokerOrder(
        client_order_id=str(get("client_order_id")),
        broker_order_id=str(get("id")),
        symbol=str(get("symbol")),
        side=Side(_value(get("side"))),
        qty=int(qty) if qty is not None else 0,
        order_type=_value(get("order_type") or get("type")),
        status=_value(get("status")),
        filled_qty=int(_dec(get("filled_qty")) or 0),
        filled_avg_price=_dec(get("filled_avg_price")),
        limit_price=_dec(get("limit_price")),
        submitted_at=_ts(get("submitted_at")),
    )


def to_order_update(data: Mapping[str, Any]) -> OrderUpdate:
    """A ``trade_updates`` message's ``data`` as an ``OrderUpdate`` (``price``/``qty`` describe the
    execution; ``order.filled_qty`` is cumulative)."""
    order = data["order"]
    event = str(data["event"])
    timestamp = _ts(data.get("timestamp")) or _ts(order.get("updated_at"))
    if timestamp is None:
        raise ValueError(f"trade update {event} for {order.get('client_order_id')} has no timestamp")
    execution = None
    if event in ("fill", "partial_fill"):
        qty, price = _dec(data.get("qty")), _dec(data.get("price"))
        if qty is None or price is None or not data.get("execution_id"):
            raise ValueError(f"{event} for {order.get('client_order_id')} lacks execution id, qty or price")
        execution = Execution(str(data["execution_id"]), int(qty), price, timestamp)
    return OrderUpdate(
        client_order_id=str(order["client_order_id"]),
        event=event,
        timestamp=timestamp,
        cum_filled_qty=int(_dec(order.get("filled_qty")) or 0),
        execution=execution,
        broker_order_id=str(order.get("id")) if order.get("id") else None,
    )


class AlpacaBroker:
    """An Alpaca account through its REST API and trade_updates stream."""

    def __init__(
        self,
        api_key: str,
        secret_key: str,
        paper: bool = True,
        url_override: str | None = None,
        timeout: float = 5.0,
        client: TradingClient | None = None,
        stream_url: str | None = None,
    ) -> None:
        if not api_key or not secret_key:
            raise ValueError("Alpaca API key and secret are required (APCA_API_KEY_ID, APCA_API_SECRET_KEY)")
        self.paper = paper
        self._keys = (api_key, secret_key)
        self._url_override = url_override
        self.client = client or TradingClient(api_key, secret_key, paper=paper, url_override=url_override)
        # TradingClient passes neither retry nor timeout settings to its REST base, so they are set
        # on it here: at most 2 of its own 429/504 retries, 1 s apart (place_order does the rest),
        # and a timeout on every request so a stalled server cannot hang a decision.
        self.client._retry = 2
        self.client._retry_wait = 1
        adapter = _TimeoutAdapter(timeout)
        self.client._session.mount("http://", adapter)
        self.client._session.mount("https://", adapter)
        self._stream_url = stream_url
        self._stream: Any = None
        self._stream_thread: threading.Thread | None = None

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, secrets_client: Any | None = None, paper: bool | None = None
    ) -> AlpacaBroker:
        """Keys from the Secrets Manager secret named by ``ALPACA_SECRET_ID`` (a JSON object with
        ``APCA_API_KEY_ID`` and ``APCA_API_SECRET_KEY``), else from those environment variables;
        ``paper`` as the configuration says (else paper unless ``ALPACA_PAPER=false``);
        ``APCA_API_BASE_URL`` / ``APCA_STREAM_URL`` override the endpoints (tests, proxies)."""
        env = os.environ if environ is None else environ
        keys: Mapping[str, str] = env
        if env.get("ALPACA_SECRET_ID"):
            keys = secret_json(env["ALPACA_SECRET_ID"], secrets_client)
        return cls(
            keys.get("APCA_API_KEY_ID", ""),
            keys.get("APCA_API_SECRET_KEY", ""),
            paper=env.get("ALPACA_PAPER", "true").lower() != "false" if paper is None else paper,
            url_override=env.get("APCA_API_BASE_URL") or None,
            stream_url=env.get("APCA_STREAM_URL") or None,
        )

    def __repr__(self) -> str:  # never show the keys
        return f"AlpacaBroker(paper={self.paper}, url={self._url_override or 'default'})"

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except _UNAVAILABLE as exc:
            raise BrokerUnavailable(f"{what}: {type(exc).__name__}") from None
        except APIError as exc:
            status = exc.status_code or 0
            if status == 429 or status >= 500:
                raise BrokerUnavailable(f"{what}: HTTP {status}") from None
            raise BrokerRejected(f"{what}: HTTP {status}: {_message(exc)}") from None

    def submit(self, order: OrderRequest) -> BrokerOrder:
        side = OrderSide.BUY if order.side is Side.BUY else OrderSide.SELL
        common = {
            "symbol": order.symbol,
            "qty": order.qty,
            "side": side,
            "time_in_force": TimeInForce.DAY,
            "client_order_id": order.client_order_id,
        }
        request: MarketOrderRequest | LimitOrderRequest
        if order.order_type is OrderType.LIMIT:
            request = LimitOrderRequest(limit_price=float(order.limit_price or 0), **common)
        else:
            request = MarketOrderRequest(**common)
        try:
            return to_broker_order(self._call("submit", lambda: self.client.submit_order(request)))
        except BrokerRejected as exc:
            if "client_order_id must be unique" in str(exc):
                existing = self.get_order(order.client_order_id)
                if existing is not None:
                    return existing  # an earlier attempt (or alpaca-py's own retry) landed
            raise

    def cancel(self, client_order_id: str) -> None:
        existing = self.get_order(client_order_id)
        if existing is None:
            raise BrokerRejected(f"no order {client_order_id} to cancel")
        self._call("cancel", lambda: self.client.cancel_order_by_id(existing.broker_order_id))

    def replace(
        self, client_order_id: str, new_client_order_id: str, qty: int, limit_price: Decimal | None
    ) -> BrokerOrder:
        existing = self.get_order(client_order_id)
        if existing is None:
            raise BrokerRejected(f"no order {client_order_id} to replace")
        change = ReplaceOrderRequest(
            qty=qty,
            client_order_id=new_client_order_id,
            limit_price=float(limit_price) if limit_price is not None else None,
        )
        try:
            return to_broker_order(
                self._call("replace", lambda: self.client.replace_order_by_id(existing.broker_order_id, change))
            )
        except BrokerRejected as exc:
            if "client_order_id must be unique" in str(exc):
                found = self.get_order(new_client_order_id)
                if found is not None:
                    return found
            raise

    def get_order(self, client_order_id: str) -> BrokerOrder | None:
        try:
            return to_broker_order(self._call("get order", lambda: self.client.get_order_by_client_id(client_order_id)))
        except BrokerRejected as exc:
            if "HTTP 404" in str(exc):
                return None
            raise

    def open_orders(self) -> list[BrokerOrder]:
        orders = self._call(
            "open orders", lambda: self.client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN))
        )
        return [to_broker_order(o) for o in orders]

    def positions(self) -> list[BrokerPosition]:
        return [
            BrokerPosition(str(p.symbol), int(Decimal(str(p.qty))), Decimal(str(p.avg_entry_price)))
            for p in self._call("positions", self.client.get_all_positions)
        ]

    def account(self) -> BrokerAccount:
        a = self._call("account", self.client.get_account)
        return BrokerAccount(Decimal(str(a.cash)), Decimal(str(a.equity)), Decimal(str(a.buying_power)))

    def on_update(self, handler: Callable[[OrderUpdate], None]) -> None:
        """Stream trade_updates to ``handler`` from a background thread (alpaca-py reconnects)."""
        from alpaca.trading.stream import TradingStream  # noqa: PLC0415 - only live runs need it

        # alpaca-py annotates url_override as str though its default is None (= the real endpoint).
        stream = TradingStream(*self._keys, paper=self.paper, raw_data=True, url_override=self._stream_url)  # type: ignore[arg-type]

        async def forward(message: Any) -> None:
            try:  # with raw_data, alpaca-py hands over the whole frame: {"stream": ..., "data": {...}}
                handler(to_order_update(message["data"]))
            except (KeyError, ValueError) as exc:  # a malformed update must not stop the stream
                log.error("skipped malformed trade update: %s", exc)

        stream.subscribe_trade_updates(forward)
        self._stream = stream
        self._stream_thread = threading.Thread(target=stream.run, name="alpaca-trade-updates", daemon=True)
        self._stream_thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the trade_updates stream (if started)."""
        if self._stream is not None:
            self._stream.stop()
        if self._stream_thread is not None:
            self._stream_thread.join(timeout)
            self._stream_thread = None


def _message(exc: APIError) -> str:
    try:
        return str(exc.message)
    except (ValueError, KeyError, TypeError):
        return str(exc)
