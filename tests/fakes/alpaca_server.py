"""A local HTTP server that answers the Alpaca trading REST endpoints QuantTerminal uses, in
Alpaca's documented response format, with scriptable failures: 429 with rate-limit headers, 5xx,
stalls longer than the client's timeout, rejections, "the order landed but the response failed",
and Alpaca's own refusals (a cancel of an order that is no longer cancelable is a 422). For
contract tests of ``AlpacaBroker`` over real HTTP on loopback.

Order types and classes as "Orders at Alpaca" and the order reference document them, with the
behaviour users report where the docs are silent (each cited at its code, ``fake_orders``):
stop, stop-limit and trailing stops (``trail_percent``, the high-water mark ``hwm``); ``bracket``
and ``oto`` entries whose legs get client order ids Alpaca makes up (ours are ignored,
alpacahq/Alpaca-API#115) and are ``held`` until the entry fills, then the take-profit is ``new``
and the stop-loss stays ``held`` until it triggers; a filled leg ends its sibling (the stop-loss's
cancel is not streamed, alpaca-py#198: only REST shows it); ``nested=true`` rolls legs up under
their entry, otherwise every leg is listed as an order of its own.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes import fake_orders

KEY, SECRET = "PKTEST", "secret-test"
NOT_CANCELABLE = ("filled", "canceled", "expired", "replaced", "rejected", "done_for_day")


@dataclass
class Fault:
    """What the server does to the next matching request instead of (or after) handling it."""

    status: int = 0  # answer with this HTTP status
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    stall: float = 0.0  # sleep this long before answering
    process: bool = False  # handle the request first anyway (it lands; only the answer fails)
    process_late: bool = False  # handle it only after the stall (it lands after the client gave up)
    method: str = "POST"


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class FakeAlpaca:
    """Start with ``with FakeAlpaca() as alpaca:``; ``alpaca.url`` is the base URL."""

    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.activities: list[dict[str, Any]] = []  # FILL account activities, oldest first
        self.positions: list[dict[str, Any]] = []
        self.cash = "100000"
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str]] = []
        self.buying_power_limit = 1_000_000.0
        self.legs_of: dict[str, list[str]] = {}  # an entry's client order id -> its legs' (Alpaca's)
        self.marks: dict[str, float] = {}  # the last price of each symbol (stops and legs are checked against it)
        self.notices: list[dict[str, Any]] = []  # trade_updates the venue sends on its own (legs), oldest first
        # The account's keys: a paper-account reset regenerates them and the old ones get 401 at once
        self.keys = (KEY, SECRET)
        self.lock = threading.Lock()  # Alpaca checks and creates a client order id atomically; so must we
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeAlpaca:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def posts(self) -> int:
        return sum(1 for method, path in self.requests if method == "POST" and path == "/v2/orders")

    def list_orders(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        """GET /v2/orders as Alpaca documents it: ``status`` open (default) / closed / all,
        ``limit`` 50 by default and at most 500, ``after`` / ``until`` exclusive on the submit
        time, ``direction`` desc by default."""
        arg = {k: v[0] for k, v in query.items()}
        done = ("filled", "canceled", "expired", "replaced", "rejected")
        status = arg.get("status", "open")
        orders = [o for o in self.orders.values() if status == "all" or (o["status"] in done) == (status == "closed")]

        def at(o: dict[str, Any]) -> datetime:
            return datetime.fromisoformat(o["submitted_at"].replace("Z", "+00:00"))

        if arg.get("after"):
            orders = [o for o in orders if at(o) > datetime.fromisoformat(arg["after"].replace("Z", "+00:00"))]
        if arg.get("until"):
            orders = [o for o in orders if at(o) < datetime.fromisoformat(arg["until"].replace("Z", "+00:00"))]
        if arg.get("symbols"):
            orders = [o for o in orders if o["symbol"] in arg["symbols"].split(",")]
        nested = _flag(arg.get("nested"))
        if nested:  # legs are rolled up under their entry, not listed on their own
            leg_ids = {leg for legs in self.legs_of.values() for leg in legs}
            orders = [o for o in orders if o["client_order_id"] not in leg_ids]
        orders.sort(key=at, reverse=arg.get("direction", "desc") == "desc")
        return [self.view(o, nested) for o in orders[: min(int(arg.get("limit", 50)), 500)]]

    def view(self, order: dict[str, Any], nested: bool) -> dict[str, Any]:
        """``order`` as Alpaca answers it: with its ``legs`` when read nested (and when placed)."""
        legs = self.legs_of.get(order["client_order_id"])
        return {**order, "legs": [dict(self.orders[leg]) for leg in legs] if nested and legs else None}

    def mark(self, symbol: str, price: float) -> None:
        """The market traded ``symbol`` at ``price``: trailing stops follow it."""
        with self.lock:
            self.marks[symbol] = price
            for order in self.orders.values():
                if order["symbol"] == symbol and order["type"] == "trailing_stop" and order["status"] == "new":
                    fake_orders.trail(order, price)

    def fill(self, client_order_id: str, qty: int, price: str, at: datetime | None = None) -> dict[str, Any]:
        """Execute ``qty`` of an order: the order's cumulative fill and status move, a FILL account
        activity is recorded, and the ``trade_updates`` message the stream would send is returned.
        The stream's ``execution_id`` and the activity's ``id`` differ (Alpaca documents no link
        between the two; activity ids are ``<time>::<uuid>``)."""
        when = at or datetime.now(UTC)
        stamp = when.isoformat().replace("+00:00", "Z")
        with self.lock:
            order = self.orders[client_order_id]
            before = int(order["filled_qty"])
            cum = before + qty
            avg_before = float(order["filled_avg_price"] or 0)
            order["filled_qty"] = str(cum)
            order["filled_avg_price"] = str(round((avg_before * before + float(price) * qty) / cum, 6))
            full = cum >= int(float(order["qty"]))
            order["status"] = "filled" if full else "partially_filled"
            order["updated_at"] = stamp
            if full:
                order["filled_at"] = stamp
                self.notices += fake_orders.after_fill(self.orders, self.legs_of, order, stamp)
            event = "fill" if full else "partial_fill"
            self.activities.append(
                {
                    "id": f"{when.strftime('%Y%m%d%H%M%S%f')[:-3]}::{uuid.uuid4()}",
                    "activity_type": "FILL",
                    "transaction_time": stamp,
                    "type": event,
                    "price": price,
                    "qty": str(qty),
                    "side": order["side"],
                    "symbol": order["symbol"],
                    "leaves_qty": str(int(float(order["qty"])) - cum),
                    "order_id": order["id"],
                    "cum_qty": str(cum),
                    "order_status": order["status"],
                }
            )
            return {
                "stream": "trade_updates",
                "data": {
                    "event": event,
                    "execution_id": str(uuid.uuid4()),
                    "order": dict(order),
                    "timestamp": stamp,
                    "price": price,
                    "qty": str(qty),
                    "position_qty": str(cum),
                },
            }

    def place(self, body: dict[str, Any]) -> dict[str, Any]:
        """Accept the new order ``body`` (already checked) with its exit legs; the POST's answer."""
        order = self.order_json(body)
        if body.get("type") == "trailing_stop":
            order["status"] = "new"
            if body["symbol"] in self.marks:
                fake_orders.trail(order, self.marks[body["symbol"]])
        self.orders[order["client_order_id"]] = order
        legs = fake_orders.legs(order, body, self.order_json)
        if legs:
            self.legs_of[order["client_order_id"]] = [leg["client_order_id"] for leg in legs]
            self.orders.update((leg["client_order_id"], leg) for leg in legs)
        return self.view(order, nested=True)

    def position(self, symbol: str) -> int:
        return sum(int(float(p["qty"])) for p in self.positions if p["symbol"] == symbol)

    def list_activities(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        """GET /v2/account/activities/FILL as Alpaca documents it: ``after`` / ``until`` on the
        activity time, ``direction`` desc by default, ``page_size`` at most 100 (the default),
        ``page_token`` = the id of the last activity of the previous page (asc: the page starts
        right after it; desc: it ends right before it)."""
        arg = {k: v[0] for k, v in query.items()}

        def at(a: dict[str, Any]) -> datetime:
            return datetime.fromisoformat(a["transaction_time"].replace("Z", "+00:00"))

        found = list(self.activities)
        if arg.get("after"):
            found = [a for a in found if at(a) > datetime.fromisoformat(arg["after"].replace("Z", "+00:00"))]
        if arg.get("until"):
            found = [a for a in found if at(a) < datetime.fromisoformat(arg["until"].replace("Z", "+00:00"))]
        found.sort(key=lambda a: (at(a), a["id"]), reverse=arg.get("direction", "desc") == "desc")
        if arg.get("page_token"):
            ids = [a["id"] for a in found]
            found = found[ids.index(arg["page_token"]) + 1 :] if arg["page_token"] in ids else []
        return found[: min(int(arg.get("page_size", 100)), 100)]

    def order_json(self, body: dict[str, Any]) -> dict[str, Any]:
        now = _now()
        return {
            "id": str(uuid.uuid4()),
            "client_order_id": body.get("client_order_id") or str(uuid.uuid4()),
            "created_at": now,
            "updated_at": now,
            "submitted_at": now,
            "filled_at": None,
            "expired_at": None,
            "cancel_requested_at": None,
            "canceled_at": None,
            "failed_at": None,
            "replaced_at": None,
            "replaced_by": None,
            "replaces": None,
            "asset_id": "b28f4066-5c6d-479b-a2af-85dc1a8f16fb",
            "symbol": body["symbol"],
            "asset_class": "us_equity",
            "notional": None,
            "qty": _decimal_text(body["qty"]),  # alpaca-py sends 78.0; Alpaca answers "78"
            "filled_qty": "0",
            "filled_avg_price": None,
            "order_class": "" if body.get("order_class") in (None, "simple") else body["order_class"],
            "order_type": body["type"],
            "type": body["type"],
            "side": body["side"],
            "time_in_force": body["time_in_force"],
            "limit_price": body.get("limit_price"),
            "stop_price": None if body["type"] == "trailing_stop" else body.get("stop_price"),
            "status": "accepted",
            "extended_hours": bool(body.get("extended_hours")),
            "legs": None,
            "trail_percent": None if body.get("trail_percent") is None else str(body["trail_percent"]),
            "trail_price": None if body.get("trail_price") is None else str(body["trail_price"]),
            "hwm": None,
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _route(self, method: str) -> None:
                parts = urlsplit(self.path)
                fake.requests.append((method, parts.path))
                if (self.headers.get("APCA-API-KEY-ID"), self.headers.get("APCA-API-SECRET-KEY")) != fake.keys:
                    self._send(401, {"code": 40110000, "message": "request is not authorized"})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}") if length else {}
                fault = next((f for f in fake.faults if f.method == method), None)
                if fault is not None:
                    fake.faults.remove(fault)
                    if fault.process:
                        self._handle(method, parts.path, parts.query, body, reply=False)
                    if fault.stall:
                        time.sleep(fault.stall)
                    if fault.process_late:
                        self._handle(method, parts.path, parts.query, body, reply=False)
                    if fault.status:
                        self._send(fault.status, fault.body or {"message": "fault"}, fault.headers)
                        return
                self._handle(method, parts.path, parts.query, body, reply=True)

            def _handle(self, method: str, path: str, query: str, body: dict[str, Any], reply: bool) -> None:
                result: tuple[int, Any]
                if method == "POST" and path == "/v2/orders":
                    coid = body.get("client_order_id")
                    price = float(body.get("limit_price") or 100)
                    with fake.lock:
                        symbol = body["symbol"]
                        refused = fake_orders.refusal(body, fake.marks.get(symbol), fake.position(symbol))
                        if coid in fake.orders:
                            result = (422, {"code": 40010001, "message": "client_order_id must be unique"})
                        elif refused is not None:
                            result = (422, {"code": fake_orders.REFUSED, "message": refused})
                        elif float(body["qty"]) * price > fake.buying_power_limit:
                            result = (403, {"code": 40310000, "message": "insufficient buying power"})
                        else:
                            result = (200, fake.place(body))
                elif method == "GET" and path == "/v2/orders:by_client_order_id":
                    coid = parse_qs(query).get("client_order_id", [""])[0]
                    order = fake.orders.get(coid)
                    result = (200, order) if order else (404, {"code": 40410000, "message": "order not found"})
                elif method == "GET" and path == "/v2/orders":
                    result = (200, fake.list_orders(parse_qs(query)))
                elif method == "GET" and path == "/v2/account/activities/FILL":
                    result = (200, fake.list_activities(parse_qs(query)))
                elif method == "GET" and path.startswith("/v2/orders/"):
                    order_id = path.rsplit("/", 1)[1]
                    by_id = [o for o in fake.orders.values() if o["id"] == order_id]
                    nested = _flag(parse_qs(query).get("nested", [""])[0])
                    missing = (404, {"code": 40410000, "message": "order not found"})
                    result = (200, fake.view(by_id[0], nested)) if by_id else missing
                elif method == "DELETE" and path.startswith("/v2/orders/"):
                    # docs.alpaca.markets/reference/cancel-an-order-by-id: "If the order is no longer
                    # cancelable (example: status = filled), the server will respond with status 422"
                    order_id = path.rsplit("/", 1)[1]
                    with fake.lock:
                        found = next((o for o in fake.orders.values() if o["id"] == order_id), None)
                        if found is None:
                            result = (404, {"code": 40410000, "message": "order not found"})
                        elif found["status"] in NOT_CANCELABLE:
                            result = (422, {"code": 42210000, "message": "order is not cancelable"})
                        else:
                            found["status"] = "pending_cancel"
                            for leg in fake.legs_of.get(found["client_order_id"], ()):  # an entry's legs go with it
                                if fake.orders[leg]["status"] not in NOT_CANCELABLE:
                                    fake.orders[leg]["status"] = "canceled"
                            result = (204, {})
                elif method == "PATCH" and path.startswith("/v2/orders/"):
                    order_id = path.rsplit("/", 1)[1]
                    with fake.lock:
                        old = next((o for o in fake.orders.values() if o["id"] == order_id), None)
                        new_id = body.get("client_order_id") or str(uuid.uuid4())
                        if old is None or old["status"] in ("filled", "canceled", "expired", "replaced"):
                            result = (422, {"code": 42210000, "message": "order is not open"})
                        elif new_id in fake.orders:
                            result = (422, {"code": 40010001, "message": "client_order_id must be unique"})
                        else:
                            new = fake.order_json(
                                {
                                    **old,
                                    "client_order_id": new_id,
                                    "qty": body.get("qty", old["qty"]),
                                    "limit_price": body.get("limit_price", old["limit_price"]),
                                }
                            )
                            new["replaces"] = old["id"]
                            old["status"], old["replaced_by"] = "replaced", new["id"]
                            fake.orders[new_id] = new
                            result = (200, new)
                elif method == "GET" and path == "/v2/positions":
                    result = (200, fake.positions)
                elif method == "GET" and path == "/v2/account":
                    result = (
                        200,
                        {
                            "id": "904837e3-3b76-47ec-b432-046db621571b",
                            "account_number": "PA1",
                            "status": "ACTIVE",
                            "currency": "USD",
                            "cash": fake.cash,
                            "equity": fake.cash,
                            "buying_power": fake.cash,
                        },
                    )
                else:
                    result = (404, {"code": 40410000, "message": f"no route {method} {path}"})
                if reply:
                    status, payload = result
                    if status == 204:
                        self.send_response(204)
                        self.end_headers()
                    else:
                        self._send(status, payload)

            def do_GET(self) -> None:
                self._route("GET")

            def do_POST(self) -> None:
                self._route("POST")

            def do_DELETE(self) -> None:
                self._route("DELETE")

            def do_PATCH(self) -> None:
                self._route("PATCH")

        return Handler


def _decimal_text(value: Any) -> str:
    number = Decimal(str(value))
    return str(number.quantize(Decimal(1)) if number == number.to_integral_value() else number.normalize())


def _flag(value: str | None) -> bool:
    """A boolean query parameter (alpaca-py sends Python's ``True``; Alpaca parses either case)."""
    return (value or "").lower() in ("true", "1")


def position_json(symbol: str, qty: int, avg: str) -> dict[str, Any]:
    return {
        "asset_id": "b28f4066-5c6d-479b-a2af-85dc1a8f16fb",
        "symbol": symbol,
        "exchange": "ARCA",
        "asset_class": "us_equity",
        "avg_entry_price": avg,
        "qty": str(qty),
        "side": "long" if qty > 0 else "short",
        "cost_basis": str(abs(qty) * float(avg)),
        "market_value": None,
        "unrealized_pl": None,
    }
