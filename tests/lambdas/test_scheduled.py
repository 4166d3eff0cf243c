"""The scheduled Lambdas on real parts: the daily report (S3 and SNS on moto) after a real traded
session, the backfill against an Alpaca-format historical endpoint on loopback, reconciliation
against the simulated broker, and the deploy-time migration on a fresh PostgreSQL schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas import backfill, daily_report, migrate, reconcile
from quantterminal import constants as c
from quantterminal.adapters.replay.history_server import HistoryServer
from quantterminal.core.accounting.orders import Order, OrderType
from quantterminal.core.models import Bar, Side
from tests.lambdas.harness import Context, Live
from tests.services import POSTGRES_URL, drop_schema, new_schema

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A reports bucket and an alert topic (moto), with an SQS queue subscribed to read the email."""
    with mock_aws():
        s3, sns, sqs = boto3.client("s3"), boto3.client("sns"), boto3.client("sqs")
        s3.create_bucket(Bucket="reports")
        topic = sns.create_topic(Name="alerts")["TopicArn"]
        queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        monkeypatch.setenv(c.ENV_REPORTS_BUCKET, "reports")
        monkeypatch.setenv(c.ENV_ALERT_TOPIC_ARN, topic)
        yield {"s3": s3, "sqs": sqs, "queue": queue}


def emails(aws: dict[str, Any]) -> list[dict[str, str]]:
    messages = aws["sqs"].receive_message(QueueUrl=aws["queue"], MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_the_daily_report_goes_to_s3_and_by_email(traded: Live, aws: dict[str, Any]) -> None:
    answer = daily_report.handler({"day": "2011-01-03"}, Context())
    assert answer["published"] is True
    prefix = "daily/account=paper/date=2011-01-03/"
    assert answer["report"] == prefix + "report.json"
    report = json.loads(aws["s3"].get_object(Bucket="reports", Key=prefix + "report.json")["Body"].read())
    assert report["day"] == "2011-01-03"
    assert len(report["trades"]) == len(traded.broker.fills)
    assert report["execution"]["orders"] == len(traded.broker.all_orders())
    assert report["equity_close"] is not None
    png = aws["s3"].get_object(Bucket="reports", Key=prefix + "equity.png")["Body"].read()
    assert png.startswith(PNG_SIGNATURE)
    (email,) = emails(aws)
    assert email["Subject"].startswith("QuantTerminal paper 2011-01-03: P&L ")
    assert "fill rate" in email["Message"]
    assert "momentum" in email["Message"]
    assert f"s3://reports/{prefix}report.json" in email["Message"]


def test_the_schedule_sends_nothing_on_a_market_holiday(traded: Live, aws: dict[str, Any]) -> None:
    # EventBridge fires at 21:30 UTC on weekdays; 2011-01-17 was Martin Luther King Jr. Day.
    answer = daily_report.handler({"time": "2011-01-17T21:30:00Z", "detail-type": "Scheduled Event"}, Context())
    assert answer == {"day": "2011-01-17", "published": False}
    assert emails(aws) == []
    assert "Contents" not in aws["s3"].list_objects_v2(Bucket="reports")


def test_backfill_fills_the_missing_minutes_from_the_historical_api(
    live: Live, spy_2011_rth: list[Bar], monkeypatch: pytest.MonkeyPatch
) -> None:
    day = spy_2011_rth[:390]
    session_start, session_end = day[0].timestamp, day[0].timestamp + timedelta(hours=6, minutes=30)
    holes = {*range(10, 20), 200, 388}
    live.runtime.ledger.ingest_bars([b for i, b in enumerate(day) if i not in holes])
    assert len(live.runtime.ledger.missing_minutes("SPY", session_start, session_end)) >= len(holes)
    with HistoryServer(day) as history:
        monkeypatch.setenv("APCA_DATA_URL", history.url)
        monkeypatch.setenv("APCA_API_KEY_ID", "k")
        monkeypatch.setenv("APCA_API_SECRET_KEY", "s")
        event = {"start": session_start.isoformat(), "end": session_end.isoformat(), "symbols": ["SPY"]}
        answer = backfill.handler(event, Context())
        again = backfill.handler(event, Context())
    (spy,) = answer["symbols"]
    assert spy["filled"] == len(holes)
    assert spy["error"] is None
    # minutes the real data has no bar for stay missing, and are reported as such
    assert spy["still_missing"] == spy["missing"] - len(holes)
    assert again["symbols"][0]["filled"] == 0
    stored = live.runtime.ledger.bars_between(session_start, session_end, ["SPY"])["SPY"]
    ohlcv = [(b.timestamp, b.open, b.high, b.low, b.close, b.volume) for b in day]
    assert [(b.timestamp, b.open, b.high, b.low, b.close, b.volume) for b in stored] == ohlcv[: len(stored)]
    assert len(stored) == len(day)


def test_backfill_reports_a_down_historical_api_and_changes_nothing(
    live: Live, spy_2011_rth: list[Bar], monkeypatch: pytest.MonkeyPatch
) -> None:
    day = spy_2011_rth[:60]
    live.runtime.ledger.ingest_bars(day[:30] + day[31:])
    monkeypatch.setenv("APCA_DATA_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("APCA_API_KEY_ID", "k")
    monkeypatch.setenv("APCA_API_SECRET_KEY", "s")
    event = {"start": day[0].timestamp.isoformat(), "end": day[-1].timestamp.isoformat(), "symbols": ["SPY"]}
    (spy,) = backfill.handler(event, Context())["symbols"]
    assert spy["filled"] == 0
    assert spy["error"]
    assert spy["still_missing"] == spy["missing"] >= 1


def test_reconcile_adopts_the_brokers_position_and_counts_the_drift(live: Live, spy_2011_rth: list[Bar]) -> None:
    bar = spy_2011_rth[0]
    live.broker.on_bar(bar)
    stranger = Order("manual-1", "manual", "SPY", Side.BUY, 10, OrderType.MARKET, bar.timestamp, Decimal("127.0"), None)
    live.broker.submit(stranger)  # placed by hand in the broker's UI: unknown to the state store
    live.broker.on_bar(spy_2011_rth[1])
    live.broker.flush()
    answer = reconcile.handler({}, Context())
    assert answer["drifts"], "the position nobody booked is a drift"
    assert reconcile.handler({}, Context())["drifts"] == []  # adopted: in agreement now


def test_the_migration_runs_at_deploy_and_is_idempotent(monkeypatch: pytest.MonkeyPatch) -> None:
    schema = new_schema()
    try:
        monkeypatch.delenv(c.ENV_DB_SECRET_ID, raising=False)
        monkeypatch.setenv("DATABASE_URL", f"{POSTGRES_URL}?schema={schema}")
        first = migrate.handler({"RequestType": "Create"}, Context())
        assert first["applied"]
        assert migrate.handler({"RequestType": "Update"}, Context()) == {"applied": []}
    finally:
        drop_schema(schema)


def test_last_sessions_skip_weekends_and_holidays() -> None:
    from quantterminal.core.market_data.backfill import last_sessions

    tuesday_morning = datetime(2011, 1, 18, 12, 0, tzinfo=UTC)  # Monday the 17th was a holiday
    start, end = last_sessions(tuesday_morning, 1)
    assert (start, end) == (datetime(2011, 1, 14, 14, 30, tzinfo=UTC), datetime(2011, 1, 14, 21, 0, tzinfo=UTC))
    start, _ = last_sessions(tuesday_morning, 2)
    assert start == datetime(2011, 1, 13, 14, 30, tzinfo=UTC)
