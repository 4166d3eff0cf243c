"""Publish a daily report: JSON and an equity-curve PNG to the reports bucket, and a readable
summary to the alert topic (SNS email). Objects are keyed by account and date, so re-running a
day's report replaces that day's files and nothing else."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quantterminal.adapters.aws import clients as aws
from quantterminal.core.reporting.post_trade import DailyReport

SUBJECT_LIMIT = 100  # SNS refuses longer email subjects


@dataclass(frozen=True)
class PublishedReport:
    """Where a report went."""

    json_key: str
    png_key: str | None
    message_id: str | None


def equity_png(report: DailyReport) -> bytes | None:
    """The equity curve to date as a PNG (``None`` without a curve)."""
    if not report.curve:
        return None
    from quantterminal.adapters.reports.files import plot_equity  # noqa: PLC0415 - matplotlib is slow to import

    with tempfile.TemporaryDirectory() as folder:
        path = plot_equity(
            Path(folder) / "equity.png", {report.account: list(report.curve)}, f"{report.account} equity to date"
        )
        return path.read_bytes()


def subject(report: DailyReport) -> str:
    """The email subject: account, day and the day's P&L."""
    pnl = (
        "market closed" if not report.trading_day else ("P&L n/a" if report.pnl is None else f"P&L {report.pnl:+,.2f}")
    )
    return f"QuantTerminal {report.account} {report.day.isoformat()}: {pnl}"[:SUBJECT_LIMIT]


def publish_report(
    report: DailyReport, bucket: str, topic_arn: str | None, s3: Any | None = None, sns: Any | None = None
) -> PublishedReport:
    """Write the report's files and email its summary (when a topic is given)."""
    s3 = s3 or aws.client("s3")
    prefix = f"daily/account={report.account}/date={report.day.isoformat()}/"
    body = json.dumps(report.as_dict(), indent=2).encode()
    s3.put_object(Bucket=bucket, Key=prefix + "report.json", Body=body, ContentType="application/json")
    png_key = None
    png = equity_png(report)
    if png is not None:
        png_key = prefix + "equity.png"
        s3.put_object(Bucket=bucket, Key=png_key, Body=png, ContentType="image/png")
    message_id = None
    if topic_arn:
        sns = sns or aws.client("sns")
        where = f"\nFull report: s3://{bucket}/{prefix}report.json" + (
            f"\nEquity curve: s3://{bucket}/{png_key}" if png_key else ""
        )
        message_id = sns.publish(TopicArn=topic_arn, Subject=subject(report), Message=report.summary() + where)[
            "MessageId"
        ]
    return PublishedReport(prefix + "report.json", png_key, message_id)
