"""What the system knows of a broker, and how an order is placed exactly once.

A submit can end three ways: acknowledged, definitely refused (``BrokerRejected``), or unknown
(``BrokerUnavailable``: a timeout, a 5xx, a 429, a dropped connection -- the order may or may not
exist at the broker). ``place_order`` never answers "unknown" by posting again: it first looks the
order up by its client order id, and only re-submits when the broker says it has no such order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from quantterminal.core.accounting.orders import Order

if TYPE_CHECKING:
    from quantterminal.core.trading.ports import Broker


class BrokerRejected(Exception):  # noqa: N818 - the broker's word, not a programming error
    """The broker refused the request for good (insufficient buying power, invalid order, ...)."""


class BrokerUnavailable(Exception):  # noqa: N818
    """The broker could not be reached or did not answer clearly; the outcome is unknown."""


@dataclass(frozen=True, slots=True)
class BrokerPosition:
    """A position as the broker reports it (signed shares). One the system cannot hold (a
    fractional quantity, from a trade made outside it) says why in ``unreadable`` (its ``qty``
    is then 0): reconciliation leaves that symbol alone and alerts, instead of stopping."""

    symbol: str
    qty: int
    avg_entry_price: Decimal
    unreadable: str = ""


@dataclass(frozen=True, slots=True)
class BrokerAccount:
    """Cash and equity as the broker reports them."""

    cash: Decimal
    equity: Decimal
    buying_power: Decimal


def place_order(
    broker: Broker,
    order: Order,
    attempts: int = 4,
    wait: Callable[[int], None] = lambda attempt: None,
) -> Order:
    """Submit ``order`` at most once in effect, whatever fails on the way.

    ``wait(attempt)`` sleeps before each retry (backoff lives with the caller: the core does no
    I/O). Raises ``BrokerRejected`` if refused, ``BrokerUnavailable`` if the outcome is still
    unknown after ``attempts``.
    """
    last: BrokerUnavailable | None = None
    for attempt in range(attempts):
        if attempt:
            wait(attempt)
        if last is not None:
            # The previous submit may have landed: ask before posting again.
            try:
                found = broker.get_order(order.client_order_id)
            except BrokerUnavailable as exc:
                last = exc
                continue
            if found is not None:
                return found
        try:
            return broker.submit(order)
        except BrokerUnavailable as exc:
            last = exc
    assert last is not None
    raise last
