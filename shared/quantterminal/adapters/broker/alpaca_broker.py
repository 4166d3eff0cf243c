"""The Alpaca broker (paper by default), on alpaca-py's ``TradingClient`` and ``TradingStream``.

Keys come from the environment (``APCA_API_KEY_ID``, ``APCA_API_SECRET_KEY``; in AWS they are put
there from Secrets Manager) and are never logged. ``ALPACA_PAPER=false`` trades a live account.

How failures map onto the Broker port:
- 403 (e.g. insufficient buying power) and 422 (invalid order) -> ``BrokerRejected``;
- 429 (rate limit), 5xx, timeouts and dropped connections -> ``BrokerUnavailable``: the order may
  or may not exist, and ``place_order`` looks it up before anything is re-sent;
- a 422 "client_order_id must be unique" means an earlier attempt landed: it is answered with the
  existing order.
Retries are ours, not alpaca-py's (its own re-POSTs a rejected order blindly, back to back):
after a 429 the next request waits for the reset time Alpaca sends (``X-RateLimit-Reset``, Unix
seconds; ``Retry-After`` if given; capped), after a 5xx or a timeout for an exponential backoff with
full jitter. Reads are retried here; an order submit or replace is not -- ``place_order`` looks the
order up by its client order id first. Open orders are read page by page (Alpaca returns at most 500
per request, 50 unless asked). Quantities are whole shares: a fractional one from the broker is
refused loudly (``FractionalQuantity``), never truncated.
Every request has a timeout (alpaca-py sets none, so a stalled server would hang a decision).
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import requests
from alpaca.common.enums import Sort
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import GetOrdersRequest, LimitOrderRequest, MarketOrderRequest, ReplaceOrderRequest

from quantterminal.adapters.aws.secrets import secret_json
from quantterminal.adapters.http_timeouts import TimeoutAdapter
from quantterminal.adapters.retry import backoff_delay
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
READ_ATTEMPTS = 3
BACKOFF_BASE, BACKOFF_CAP = 0.5, 8.0  # seconds
MAX_RATE_LIMIT_WAIT = 30.0  # never hold a decision longer than this for a rate limit
OPEN_ORDERS_PAGE = 500  # Alpaca's maximum per request


class FractionalQuantity(ValueError):  # noqa: N818 - the broker's data, refused
    """The broker reports a fractional share quantity; QuantTerminal trades whole shares."""


def _shares(value: Any, what: str) -> int:
    """A whole number of shares, or ``FractionalQuantity`` -- never a silent truncation."""
    amount = _dec(value) or Decimal(0)
    if amount != amount.to_integral_value():
        raise FractionalQuantity(f"{what}: {amount} shares is fractional; QuantTerminal trades whole shares only")
    return int(amount)


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
    what = f"order {get('client_order_id')}"
    return BrokerOrder(
        client_order_id=str(get("client_order_id")),
        broker_order_id=str(get("id")),
        symbol=str(get("symbol")),
        side=Side(_value(get("side"))),
        qty=_shares(get("qty"), what),
        order_type=_value(get("order_type") or get("type")),
        status=_value(get("status")),
        filled_qty=_shares(get("filled_qty"), what),
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
        what = f"{event} of {order.get('client_order_id')}"
        execution = Execution(str(data["execution_id"]), _shares(qty, what), price, timestamp)
    return OrderUpdate(
        client_order_id=str(order["client_order_id"]),
        event=event,
        timestamp=timestamp,
        cum_filled_qty=_shares(order.get("filled_qty"), f"order {order.get('client_order_id')}"),
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
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not api_key or not secret_key:
            raise ValueError("Alpaca API key and secret are required (APCA_API_KEY_ID, APCA_API_SECRET_KEY)")
        self.paper = paper
        self._keys = (api_key, secret_key)
        self._url_override = url_override
        self.client = client or TradingClient(api_key, secret_key, paper=paper, url_override=url_override)
        # TradingClient passes neither retry nor timeout settings to its REST base, so they are set
        # on it here: none of its own retries (see the module docs), and a timeout on every request
        # so a stalled server cannot hang a decision.
        self.client._retry = 0
        self.sleep = sleep
        self.clock = clock
        self._not_before = 0.0  # wall-clock time before which no request goes out (rate limit, backoff)
        self._failures = 0  # consecutive failed requests: the backoff grows with them
        adapter = TimeoutAdapter(timeout)
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

    def _call(self, what: str, call: Callable[[], Any], attempts: int = READ_ATTEMPTS) -> Any:
        """``call`` paced by the last rate limit or failure; a read is retried (``attempts``), a
        submit or replace is tried once (``attempts=1``: the caller looks the order up first)."""
        for attempt in range(attempts):
            wait = self._not_before - self.clock()
            if wait > 0:
                self.sleep(wait)
            try:
                result = call()
            except _UNAVAILABLE as exc:
                failure = BrokerUnavailable(f"{what}: {type(exc).__name__}")
                self._back_off(None)
            except APIError as exc:
                status = exc.status_code or 0
                if status != 429 and status < 500:
                    self._failures = 0
                    raise BrokerRejected(f"{what}: HTTP {status}: {_message(exc)}") from None
                failure = BrokerUnavailable(f"{what}: HTTP {status}")
                self._back_off(exc.response if status == 429 else None)
            else:
                self._failures = 0
                return result
            if attempt == attempts - 1:
                raise failure from None
            log.warning("alpaca %s unavailable (%s); retrying", what, failure)
        raise AssertionError("unreachable")

    def _back_off(self, rate_limited: Any | None) -> None:
        """Hold the next request: until the rate limit resets (its headers), else for an
        exponential backoff with full jitter that grows with consecutive failures."""
        now = self.clock()
        self._failures += 1
        delay = backoff_delay(self._failures - 1, BACKOFF_BASE, BACKOFF_CAP)
        headers = getattr(rate_limited, "headers", None) or {}
        try:
            if headers.get("Retry-After"):
                delay = max(delay, float(headers["Retry-After"]))
            elif headers.get("X-RateLimit-Reset"):
                delay = max(delay, float(headers["X-RateLimit-Reset"]) - now + random.uniform(0, 0.25))
        except ValueError:
            pass  # an unreadable header: the backoff stands
        self._not_before = now + min(delay, MAX_RATE_LIMIT_WAIT)

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
            return to_broker_order(self._call("submit", lambda: self.client.submit_order(request), attempts=1))
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
                self._call(
                    "replace", lambda: self.client.replace_order_by_id(existing.broker_order_id, change), attempts=1
                )
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
        """Every open order, oldest first, page by page: Alpaca returns at most ``limit`` (500;
        50 by default) per request, so reading one page would miss the rest."""
        found: dict[str, BrokerOrder] = {}
        after: datetime | None = None
        while True:
            request = GetOrdersRequest(
                status=QueryOrderStatus.OPEN, limit=OPEN_ORDERS_PAGE, direction=Sort.ASC, after=after
            )
            page = [to_broker_order(o) for o in self._call("open orders", partial(self.client.get_orders, request))]
            new = [o for o in page if o.broker_order_id not in found]
            found.update((o.broker_order_id, o) for o in new)
            if len(page) < OPEN_ORDERS_PAGE:
                return list(found.values())
            last = max((o.submitted_at for o in page if o.submitted_at is not None), default=None)
            if last is None or not new:
                raise BrokerUnavailable("open orders: cannot page further (orders without a distinct submit time)")
            # ``after`` is exclusive: step back a microsecond so orders sharing the last time are not skipped
            after = last - timedelta(microseconds=1)

    def positions(self) -> list[BrokerPosition]:
        return [
            BrokerPosition(str(p.symbol), _shares(p.qty, f"position {p.symbol}"), Decimal(str(p.avg_entry_price)))
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
