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
never truncated. A fractional position is reported as unreadable (reconciliation leaves its symbol
alone, with an alert); an order that is not ours to read (fractional, or of terms QuantTerminal
does not hold, e.g. made by hand in Alpaca's dashboard) is skipped from listings with an alert.
Every order type and exit legs are placed natively (``alpaca_requests``); Alpaca names a
bracket's legs itself, and they are read back under our names (``alpaca_legs``).
Every request has a timeout (alpaca-py sets none, so a stalled server would hang a decision).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

import requests
from alpaca.common.enums import Sort
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.requests import GetOrdersRequest, ReplaceOrderRequest

from quantterminal import constants as c
from quantterminal.adapters.aws.secrets import secret_json
from quantterminal.adapters.broker.alpaca_legs import LegNames, is_leg_name, leg_name, nested_entry
from quantterminal.adapters.broker.alpaca_messages import FractionalQuantity, legs_of, shares, to_order, to_order_update
from quantterminal.adapters.broker.alpaca_requests import order_request
from quantterminal.adapters.broker.call_budget import AccountReads, Deadline
from quantterminal.adapters.http_timeouts import TimeoutAdapter
from quantterminal.adapters.retry import backoff_delay, rate_limit_wait
from quantterminal.core.accounting.orders import Order, OrderUpdate
from quantterminal.core.trading.broker import BrokerAccount, BrokerPosition, BrokerRejected, BrokerUnavailable
from quantterminal.environment import Environment

if TYPE_CHECKING:
    from quantterminal.adapters.broker.alpaca_trade_stream import AlpacaTradeStream

__all__ = ["AlpacaBroker", "FractionalQuantity", "to_order_update"]  # the parsers are re-exported for callers
log = logging.getLogger(__name__)
_UNAVAILABLE = (requests.ConnectionError, requests.Timeout)
READ_ATTEMPTS = 3
BACKOFF_BASE, BACKOFF_CAP = 0.5, 8.0  # seconds
MAX_RATE_LIMIT_WAIT = 30.0  # never hold a decision longer than this for a rate limit
OPEN_ORDERS_PAGE = 500  # Alpaca's maximum per request
PAPER_STREAM, LIVE_STREAM = "wss://paper-api.alpaca.markets/stream", "wss://api.alpaca.markets/stream"


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
        reload_keys: Callable[[], tuple[str, str]] | None = None,
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
        # Where the keys are read again when Alpaca answers 401 (a paper-account reset or a
        # rotation issued new ones): the process carries on with them, no redeploy.
        self._reload_keys = reload_keys
        self.deadline = Deadline()  # the bar handler's: no call is started that could not finish
        self._timeout = timeout
        self.account_reads = AccountReads(self._read_account, clock=clock)
        self._not_before = 0.0  # wall-clock time before which no request goes out (rate limit, backoff)
        self._failures = 0  # consecutive failed requests: the backoff grows with them
        adapter = TimeoutAdapter(timeout)
        self.client._session.mount("http://", adapter)
        self.client._session.mount("https://", adapter)
        self.alert: Callable[[str], None] = lambda message: log.error(message, extra={"alert": True})
        self._stream_url = stream_url
        self.stream: AlpacaTradeStream | None = None  # the trade_updates stream, once ``on_update`` started it
        self._stream_stop = threading.Event()
        self._stream_thread: threading.Thread | None = None
        self.legs = LegNames()  # Alpaca's names of exit legs -> ours
        self._entry_legs: dict[str, list[Order]] = {}  # an entry just placed here -> its legs, as placed

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | Environment | None = None,
        secrets_client: Any | None = None,
        paper: bool | None = None,
    ) -> AlpacaBroker:
        """Keys from the Secrets Manager secret named by ``ALPACA_SECRET_ID`` (a JSON object with
        ``APCA_API_KEY_ID`` and ``APCA_API_SECRET_KEY``), else from those environment variables;
        ``paper`` as the configuration says (else paper unless ``ALPACA_PAPER=false``);
        ``APCA_API_BASE_URL`` / ``APCA_STREAM_URL`` override the endpoints (tests, proxies)."""
        env = Environment.read(environ)

        def keys(fresh: bool = False) -> tuple[str, str]:
            if env.alpaca_secret_id:
                stored = secret_json(env.alpaca_secret_id, secrets_client, fresh=fresh)
                return stored.get(c.ENV_APCA_API_KEY_ID, ""), stored.get(c.ENV_APCA_API_SECRET_KEY, "")
            now = Environment.read(environ) if fresh else env
            return now.secret("apca_api_key_id") or "", now.secret("apca_api_secret_key") or ""

        return cls(
            *keys(),
            paper=(env.alpaca_paper is not False) if paper is None else paper,
            url_override=env.apca_api_base_url,
            stream_url=env.apca_stream_url,
            reload_keys=lambda: keys(fresh=True),
        )

    @property
    def keys(self) -> tuple[str, str]:
        """The keys in use (for the trade_updates stream's login; never logged)."""
        return self._keys

    def reload_keys(self) -> bool:
        """Read the keys again (after a 401); whether they changed and are now in use."""
        if self._reload_keys is None:
            return False
        try:
            fresh = self._reload_keys()
        except Exception as exc:  # the secret unreadable: the 401 stands, and says so
            log.error("could not read the Alpaca keys again: %s", type(exc).__name__)
            return False
        if fresh == self._keys or not all(fresh):
            return False
        self._keys = fresh
        # alpaca-py signs each request with these attributes: the bound methods in flight pick them up
        self.client._api_key, self.client._secret_key = fresh
        log.warning("Alpaca refused the keys in use; new keys were read from the secret and are used from now on")
        return True

    def __repr__(self) -> str:  # never show the keys
        return f"AlpacaBroker(paper={self.paper}, url={self._url_override or 'default'})"

    def call(self, what: str, call: Callable[[], Any], attempts: int = READ_ATTEMPTS) -> Any:
        """``call`` paced by the last rate limit or failure; a read is retried (``attempts``), a
        submit or replace is tried once (``attempts=1``: the caller looks the order up first)."""
        rekeyed = False
        for attempt in range(attempts):
            wait = self._not_before - self.clock()
            self.deadline.check(what, max(wait, 0.0) + self._timeout)
            if wait > 0:
                self.sleep(wait)
            try:
                try:
                    result = call()
                except APIError as exc:
                    # the keys were changed under us: read them again, once, and ask again
                    if exc.status_code != 401 or rekeyed or not self.reload_keys():
                        raise
                    rekeyed = True
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
        asked = rate_limit_wait(getattr(rate_limited, "headers", None) or {}, now)
        if asked is not None:  # (clients released at one reset spread out a little)
            delay = max(delay, asked + random.uniform(0, 0.25))
        self._not_before = now + min(delay, MAX_RATE_LIMIT_WAIT)

    def submit(self, order: Order) -> Order:
        request = order_request(order)
        try:
            raw = self.call("submit", lambda: self.client.submit_order(request), attempts=1)
        except BrokerRejected as exc:
            if "client_order_id must be unique" in str(exc):
                existing = self.get_order(order.client_order_id)
                if existing is not None:
                    return existing  # an earlier attempt (or alpaca-py's own retry) landed
            raise
        self.legs.learn(raw)
        if legs_of(raw):
            self._entry_legs[order.client_order_id] = [self._order(leg) for leg in legs_of(raw)]
        return self._order(raw)

    def exit_legs(self, client_order_id: str) -> list[Order]:
        """The legs Alpaca holds for the entry ``client_order_id``, under our names: as its submit
        answered, else read nested (the entry was placed by another process or attempt)."""
        placed = self._entry_legs.pop(client_order_id, None)  # asked for once, right after the submit
        return placed if placed is not None else self.read_legs(client_order_id)

    def read_legs(self, client_order_id: str) -> list[Order]:
        """The legs of the entry ``client_order_id`` as they are now (read nested, never cached)."""
        raw = nested_entry(self, client_order_id)
        return [] if raw is None else [self._order(leg) for leg in legs_of(raw)]

    def _order(self, raw: Any) -> Order:
        """``raw`` as an ``Order``, an exit leg under our name (``alpaca_legs.leg_name``)."""
        return to_order(raw, leg_name(self, raw))

    def order_update(self, data: Mapping[str, Any]) -> OrderUpdate:
        """A ``trade_updates`` message's data as an ``OrderUpdate``, an exit leg's under our name."""
        known = leg_name(self, data["order"])
        return to_order_update(data, known[0] if known is not None else None)

    def cancel(self, client_order_id: str) -> None:
        existing = self.get_order(client_order_id)
        if existing is None:
            raise BrokerRejected(f"no order {client_order_id} to cancel")
        self.call("cancel", lambda: self.client.cancel_order_by_id(_alpaca_id(existing)))

    def replace(self, client_order_id: str, new_client_order_id: str, qty: int, limit_price: Decimal | None) -> Order:
        existing = self.get_order(client_order_id)
        if existing is None:
            raise BrokerRejected(f"no order {client_order_id} to replace")
        change = ReplaceOrderRequest(
            qty=qty,
            client_order_id=new_client_order_id,
            limit_price=float(limit_price) if limit_price is not None else None,
        )
        try:
            return self._order(
                self.call("replace", lambda: self.client.replace_order_by_id(_alpaca_id(existing), change), attempts=1)
            )
        except BrokerRejected as exc:
            if "client_order_id must be unique" in str(exc):
                found = self.get_order(new_client_order_id)
                if found is not None:
                    return found
            raise

    def get_order(self, client_order_id: str) -> Order | None:
        if is_leg_name(client_order_id):
            return self._leg(client_order_id)
        try:
            return self._order(self.call("get order", lambda: self.client.get_order_by_client_id(client_order_id)))
        except BrokerRejected as exc:
            if "HTTP 404" in str(exc):
                return None
            raise

    def _leg(self, name: str) -> Order | None:
        """Our exit leg ``name`` (``<entry>.tp`` / ``.sl``), found through its entry."""
        leg_id = self.legs.alpaca_id(name)
        if leg_id is None:
            nested_entry(self, name.rsplit(".", 1)[0])
            leg_id = self.legs.alpaca_id(name)
        return None if leg_id is None else self.order_by_id(leg_id)

    def open_orders(self) -> list[Order]:
        return self.orders(QueryOrderStatus.OPEN)

    def orders(self, status: QueryOrderStatus, after: datetime | None = None) -> list[Order]:
        """Every order in ``status`` submitted after ``after``, oldest first, page by page: Alpaca
        returns at most ``limit`` (500; 50 by default) per request, so reading one page would miss
        the rest."""
        found: dict[str, Order] = {}
        while True:
            request = GetOrdersRequest(status=status, limit=OPEN_ORDERS_PAGE, direction=Sort.ASC, after=after)
            raw = self.call(f"{status.value} orders", partial(self.client.get_orders, request))
            page = [o for o in map(self._readable_order, raw) if o is not None]
            new = [o for o in page if _alpaca_id(o) not in found]
            found.update((_alpaca_id(o), o) for o in new)
            if len(raw) < OPEN_ORDERS_PAGE:
                return list(found.values())
            last = max((o.created_at for o in page if o.created_at is not None), default=None)
            if last is None or not new:
                raise BrokerUnavailable("orders: cannot page further (orders without a distinct submit time)")
            # ``after`` is exclusive: step back a microsecond so orders sharing the last time are not skipped
            after = last - timedelta(microseconds=1)

    def _readable_order(self, raw: Any) -> Order | None:
        """``raw`` as an ``Order``, or ``None`` (alerted) for one the system cannot hold."""
        try:
            return self._order(raw)
        except (FractionalQuantity, ValueError, KeyError) as exc:
            coid = getattr(raw, "client_order_id", None) or "?"
            symbol = getattr(raw, "symbol", None) or "?"
            self.alert(f"skipping Alpaca order {coid} ({symbol}), not one QuantTerminal can hold: {exc}")
            return None

    def order_by_id(self, broker_order_id: str) -> Order:
        return self._order(self.call("get order", lambda: self.client.get_order_by_id(broker_order_id)))

    def positions(self) -> list[BrokerPosition]:
        found = []
        for p in self.call("positions", self.client.get_all_positions):
            price = Decimal(str(p.avg_entry_price))
            try:
                found.append(BrokerPosition(str(p.symbol), shares(p.qty, f"position {p.symbol}"), price))
            except FractionalQuantity as exc:
                found.append(BrokerPosition(str(p.symbol), 0, price, unreadable=str(exc)))
        return found

    def account(self) -> BrokerAccount:
        """The account, read from Alpaca at most once a minute (see ``AccountReads``)."""
        return self.account_reads.account()

    def _read_account(self) -> BrokerAccount:
        a = self.call("account", self.client.get_account)
        return BrokerAccount(Decimal(str(a.cash)), Decimal(str(a.equity)), Decimal(str(a.buying_power)))

    def on_update(
        self, handler: Callable[[OrderUpdate], None], alert: Callable[[str], None] | None = None, **options: Any
    ) -> None:
        """Stream trade_updates to ``handler`` from a background thread, with keepalive, backoff
        and a REST catch-up after every reconnect (``AlpacaTradeStream``; ``options`` tune its
        ``TradeStreamSettings``)."""
        from quantterminal.adapters.broker.alpaca_trade_stream import (  # noqa: PLC0415 - live runs only
            AlpacaTradeStream,
            TradeStreamSettings,
        )

        url = self._stream_url or (PAPER_STREAM if self.paper else LIVE_STREAM)
        settings = TradeStreamSettings(url, **options)
        self.stream = AlpacaTradeStream(settings, handler, self, alert=alert or log.error)
        self._stream_stop.clear()
        self._stream_thread = threading.Thread(
            target=self.stream.run, args=(self._stream_stop,), name="alpaca-trade-updates", daemon=True
        )
        self._stream_thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the trade_updates stream (if started)."""
        self._stream_stop.set()
        if self.stream is not None:
            self.stream.interrupt()
        if self._stream_thread is not None:
            self._stream_thread.join(timeout)
            self._stream_thread = None


def _message(exc: APIError) -> str:
    try:
        return str(exc.message)
    except (ValueError, KeyError, TypeError):
        return str(exc)


def _alpaca_id(order: Order) -> str:
    """The id Alpaca gave ``order`` (every order read from Alpaca has one)."""
    if order.broker_order_id is None:
        raise BrokerUnavailable(f"Alpaca reported order {order.client_order_id} without an id")
    return order.broker_order_id
