"""The broker's calls within the Lambda's time and Alpaca's request budget, over real HTTP
against the fake Alpaca server (which counts requests as Alpaca's rate limit does: per account).

- A call that could not finish before the function's deadline (its timeout, plus a wait the rate
  limit asks for) is not started: ``OutOfTime``, and nothing reaches the server.
- The account is read at most once a minute (Alpaca allows 200 requests a minute per account);
  between reads its cash moves by the fills executed since, as the ledger books them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from lambdas import bar_handler, wiring
from quantterminal.adapters.broker.alpaca_broker import AlpacaBroker
from quantterminal.adapters.broker.call_budget import OutOfTime
from quantterminal.adapters.ledger.sqlite_ledger import SqliteLedger
from quantterminal.adapters.state.memory_state import MemoryStateStore
from quantterminal.core.accounting.orders import Order, OrderType
from quantterminal.core.models import Bar, Fill, Side
from quantterminal.wiring.runtime import Runtime
from tests.fakes.alpaca_server import KEY, SECRET, FakeAlpaca
from tests.lambdas.harness import bar_event


class Clock:
    def __init__(self) -> None:
        self.now = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now


def order(coid: str = "momentum-1") -> Order:
    return Order(coid, "momentum", "SPY", Side.BUY, 10, OrderType.LIMIT, datetime.now(UTC), Decimal("624.48"),
                 Decimal("624.50"))  # fmt: skip


def test_a_call_that_could_not_finish_before_the_deadline_is_not_started(alpaca: FakeAlpaca) -> None:
    broker = AlpacaBroker(KEY, SECRET, url_override=alpaca.url, timeout=5.0)
    broker.deadline.set(4.0)  # less than one request's timeout
    with pytest.raises(OutOfTime, match="submit"):
        broker.submit(order())
    assert alpaca.requests == [], "nothing was sent"
    broker.deadline.set(30.0)
    broker.submit(order())
    assert alpaca.posts() == 1
    # A rate limit asks for a wait longer than what is left: not started either
    broker._not_before = broker.clock() + 20.0
    broker.deadline.set(10.0)
    with pytest.raises(OutOfTime, match="open orders"):
        broker.open_orders()
    broker.deadline.set(None)


def test_the_account_is_read_once_a_minute_and_fills_keep_it_current(alpaca: FakeAlpaca) -> None:
    clock = Clock()
    broker = AlpacaBroker(KEY, SECRET, url_override=alpaca.url, clock=clock)
    ledger = SqliteLedger(":memory:")
    ledger.migrate()
    broker.account_reads.fills_since = lambda since: ledger.fills_between(since, since + timedelta(days=1))
    first = broker.account()
    for _ in range(150):  # a minute of bars for 150 symbols
        assert broker.account() == first
    reads = sum(path == "/v2/account" for _, path in alpaca.requests)
    assert reads == 1
    # a fill booked after the read: 10 shares bought at 624.40 -> the cash is 6,244 lower at once
    executed = datetime.fromtimestamp(clock.now + 5, UTC)
    ledger.append_fill(Fill("SPY", executed, Side.BUY, 10, Decimal("624.40"), Decimal(0), "momentum-1", "x1"))
    moved = broker.account()
    assert moved.cash == first.cash - Decimal("6244.00")
    assert moved.buying_power == first.buying_power - Decimal("6244.00")
    assert moved.equity == first.equity
    clock.now += 60  # a minute later the account is read again (and holds the fill itself)
    broker.account()
    assert sum(path == "/v2/account" for _, path in alpaca.requests) == 2


def test_the_bar_handler_gives_its_broker_the_functions_deadline(alpaca: FakeAlpaca) -> None:
    ledger = SqliteLedger(":memory:")
    ledger.migrate()
    broker = AlpacaBroker(KEY, SECRET, url_override=alpaca.url)
    runtime = Runtime.build(MemoryStateStore(), ledger, broker, strategies=("momentum",))

    class Context:
        function_name = "qt-test"
        memory_limit_in_mb = 512
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:qt-test"
        aws_request_id = "req-1"

        @staticmethod
        def get_remaining_time_in_millis() -> int:
            return 10_000

    wiring.use(runtime)
    try:
        bar = Bar("SPY", datetime(2025, 7, 15, 14, 1, tzinfo=UTC), 624.0, 624.5, 623.9, 624.4, 1_000)
        assert bar_handler.handler(bar_event([bar]), Context()) == {"batchItemFailures": []}
    finally:
        wiring.use(None)
    assert broker.deadline.at is not None
    left = broker.deadline.at - broker.deadline.clock()
    assert 0 < left <= 10.0 - bar_handler.FINISHING_SECONDS
