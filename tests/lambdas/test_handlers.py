"""The Lambda path on real parts: Kinesis-shaped events of real bars through the bar handler ->
simulated broker -> order events -> positions, on the real PostgreSQL and Redis, with the S3 trade
log on moto. Redelivered batches, a poison record, and parity with the backtest (test_one_kernel)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from moto import mock_aws

from lambdas import bar_handler, order_events, recorder
from quantterminal.core.market_data.feed_events import BarSource, BarUpdate, TradingStatus
from quantterminal.core.models import Bar
from quantterminal.core.trading.booking import UpdateBooking
from quantterminal.core.trading.feed_codec import encode_bar_update, encode_order_update, encode_trading_status
from tests.lambdas.harness import Clock, Context, Live, bar_event, forward_updates, kinesis_event, run_bars


def test_bars_to_orders_to_positions_and_redelivery_places_nothing_twice(live: Live, spy_2011_rth: list[Bar]) -> None:
    day = spy_2011_rth[:389]
    responses = run_bars(live, day, redeliver=True)
    live.broker.flush()
    forward_updates(live)
    assert all(r == {"batchItemFailures": []} for r in responses)
    orders = live.broker.all_orders()
    assert orders
    assert len({o.client_order_id for o in orders}) == len(orders), "no order placed twice"
    truth = {p.symbol: p.qty for p in live.broker.positions()}
    assert live.runtime.store.get_position("paper", "momentum", "SPY").qty == truth.get("SPY", 0)
    fills = live.runtime.ledger.fills_for("momentum", "SPY")
    assert sum(f.qty * f.side.sign for f in fills) == truth.get("SPY", 0)


def test_a_poison_record_fails_alone_and_later_bars_of_its_symbol_wait(live: Live, spy_2011_rth: list[Bar]) -> None:
    spy = spy_2011_rth[:3]
    ibm = [Bar("IBM", b.timestamp, 150.0, 150.5, 149.5, 150.2, 1000) for b in spy]
    records = [
        ("SPY", encode_bar_update(BarUpdate(spy[0], BarSource.PROVIDER))),
        ("IBM", encode_bar_update(BarUpdate(ibm[0], BarSource.PROVIDER))),
        ("SPY", b"}{ not a bar"),
        ("IBM", encode_bar_update(BarUpdate(ibm[1], BarSource.PROVIDER))),
        ("SPY", encode_bar_update(BarUpdate(spy[1], BarSource.PROVIDER))),
    ]
    Clock.now = spy[1].timestamp + timedelta(minutes=1)
    response = bar_handler.handler(kinesis_event(records), Context())
    failed = [item["itemIdentifier"] for item in response["batchItemFailures"]]
    assert failed == [f"{2:056d}", f"{4:056d}"]  # the poison record, then SPY's later bar; IBM went on
    snapshot = live.runtime.store.load_snapshot("momentum", "IBM")
    assert snapshot is not None
    assert snapshot["last_bar"]["t"] == ibm[1].timestamp.isoformat()


def test_the_recorder_writes_bars_idempotently_and_skips_poison(live: Live, spy_2011_rth: list[Bar]) -> None:
    bars = spy_2011_rth[:50]
    event = bar_event(bars)
    event["Records"].insert(10, kinesis_event([("SPY", b"garbage")], start=999)["Records"][0])
    first = recorder.handler(event, Context())
    second = recorder.handler(event, Context())
    assert first == second == {"batchItemFailures": [{"itemIdentifier": f"{999:056d}"}]}
    assert live.runtime.ledger.last_bars("SPY", 100) == bars


def test_the_trade_log_is_written_once_per_batch_as_json_lines(live: Live) -> None:
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="trades")
        records = [{"sequence": "1", "t": "2011-01-03T15:00:00+00:00", "id": "qt-1", "ev": "new"}]
        assert order_events.write_trade_log("trades", records, "shardId-0:0001", s3)
        assert not order_events.write_trade_log("trades", records, "shardId-0:0001", s3)  # never rewritten
        (obj,) = s3.list_objects_v2(Bucket="trades")["Contents"]
        assert obj["Key"] == "trades/date=2011-01-03/shardId-0-0001-1.jsonl"
        body = s3.get_object(Bucket="trades", Key=obj["Key"])["Body"].read().decode()
        assert [json.loads(line) for line in body.splitlines()] == records


def delivered(handler: Any, event: dict) -> bool:
    """Whether Lambda would report ``event`` processed (a raised error fails the whole batch)."""
    try:
        return not handler(event, Context())["batchItemFailures"]
    except BatchProcessingError:
        return False


def test_a_crash_between_submit_and_record_places_nothing_twice_and_loses_no_fill(
    live: Live, spy_2011_rth: list[Bar], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bar handler dies right after the broker accepted an order (before anything noted it),
    and the order-events handler dies after the ledger took a fill but before the position was
    booked. Kinesis redelivers both batches: one order per decision, every fill booked once."""
    submit, book = live.broker.submit, UpdateBooking._book
    crashes = {"submit": 0, "book": 0}

    def submit_then_crash(order: Any) -> Any:
        placed = submit(order)
        if crashes["submit"] == 0:
            crashes["submit"] += 1
            raise RuntimeError("Lambda timed out after the broker accepted the order")
        return placed

    def book_then_crash(booking: UpdateBooking, fill: Any, by_leg: bool = False) -> None:
        if crashes["book"] == 0:
            crashes["book"] += 1
            raise RuntimeError("Lambda died between the ledger write and the position")
        book(booking, fill, by_leg)

    monkeypatch.setattr(live.broker, "submit", submit_then_crash)
    monkeypatch.setattr(UpdateBooking, "_book", book_then_crash)
    day = spy_2011_rth[:389]
    failed_bars = failed_updates = 0
    for i, bar in enumerate(day):
        live.broker.on_bar(bar)
        Clock.now = bar.timestamp + timedelta(minutes=1)
        event = bar_event([bar], start=i)
        while not delivered(bar_handler.handler, event):
            failed_bars += 1  # Kinesis retries the batch
        if live.updates:
            pending, live.updates[:] = list(live.updates), []
            updates = kinesis_event([(u.client_order_id, encode_order_update(u)) for u in pending], start=i * 100)
            while not delivered(order_events.handler, updates):
                failed_updates += 1
    live.broker.flush()
    forward_updates(live, start=10**6)
    assert crashes == {"submit": 1, "book": 1}
    assert failed_bars == 1
    assert failed_updates >= 1
    orders = live.broker.all_orders()
    assert len({o.client_order_id for o in orders}) == len(orders), "no order placed twice"
    truth = {p.symbol: p.qty for p in live.broker.positions()}.get("SPY", 0)
    assert live.runtime.store.get_position("paper", "momentum", "SPY").qty == truth
    assert len(live.runtime.ledger.fills_for("momentum", "SPY")) == len(live.broker.fills)


def test_an_exchange_halt_stops_orders_for_its_symbol_until_it_resumes(live: Live, spy_2011_rth: list[Bar]) -> None:
    """Alpaca's trading status messages ("s": sc "H" halt, "T" resumption), put on the bars stream
    by the feed beside the symbol's bars: while SPY is halted no order goes out; afterwards they do."""
    day = spy_2011_rth[:389]

    def status(halted: bool, at: Bar) -> dict:
        item = TradingStatus("SPY", halted, at.timestamp, "H" if halted else "T", "Trading Halt" if halted else "")
        return kinesis_event([("SPY", encode_trading_status(item))], start=50_000 + int(halted))

    Clock.now = day[0].timestamp
    assert bar_handler.handler(status(True, day[0]), Context()) == {"batchItemFailures": []}
    (halt,) = live.runtime.store.get_risk_state("paper").halted_symbols
    assert halt[:2] == ("SPY", "Trading Halt")
    run_bars(live, day[:250])
    assert live.broker.all_orders() == [], "nothing is sent for a halted symbol"
    events = live.runtime.ledger.risk_events_on(day[0].timestamp.date())
    assert any(e.kind == "symbol_halt" for e in events)
    refused = [e for e in events if e.kind == "rejection" and e.details.get("rule") == "symbol_halted"]
    assert refused, "the strategy wanted to trade and was refused by the symbol_halted rule"
    assert bar_handler.handler(status(False, day[250]), Context()) == {"batchItemFailures": []}
    assert live.runtime.store.get_risk_state("paper").halted_symbols == ()
    run_bars(live, day[250:])
    assert live.broker.all_orders(), "orders go out again once trading resumed"
