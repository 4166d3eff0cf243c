"""``cdk deploy``: the QuantTerminal stacks. The configuration file (strategy instances, orders,
risk, broker, data) is ``-c config=quantterminal.toml`` or ``$QT_CONFIG`` (default: the shipped
one); context (cdk.json, or ``-c key=value``): ``alertEmail``, ``symbols`` to override the
configuration's, ``reservedConcurrency``, and the idle-cost levers (``nat``, ``databaseMinAcu``,
``streamRetentionHours``, ``containerInsights``, ``feedSpot``; README: Deploy)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "shared")]  # the constructs, and the shared constants

import aws_cdk as cdk  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402
from quantterminal_cdk.pipeline import PipelineSettings, PipelineStack  # noqa: E402
from quantterminal_cdk.stateful import CostSettings, StatefulStack  # noqa: E402

from quantterminal.config.load import ConfigError, load_config  # noqa: E402

T = TypeVar("T")
SUPPORTED_NODE = 22  # the oldest Node the CDK supports (Node 20: not since 2026-10-30)


def warn_on_old_node() -> str | None:
    """A warning when the Node running the CDK CLI is older than it supports (``None``: fine or unknown)."""
    try:
        version = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True, timeout=10).stdout
        major = int(version.strip().lstrip("v").split(".")[0])
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    if major >= SUPPORTED_NODE:
        return None
    return f"cdk: Node {version.strip()} is older than the CDK supports (Node {SUPPORTED_NODE} or newer); upgrade it"


def _setting(app: cdk.App, name: str, default: T, kind: Callable[[str], T]) -> T:
    """A typed setting from the cdk context (cdk.json or ``-c name=value``); a bad one stops the
    app with one line."""
    raw = app.node.try_get_context(name)
    if raw is None:
        return default
    try:
        return kind(str(raw))
    except ValueError as exc:
        sys.exit(f"cdk: context {name}={raw!r}: {exc}")


def _flag(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise ValueError("use true or false")
    return text.lower() == "true"


def _whole(text: str) -> int:
    if not text.isdigit():
        raise ValueError("use a whole number")
    return int(text)


def build(app: cdk.App) -> tuple[StatefulStack, PipelineStack]:
    """Both stacks, with cdk-nag's AWS Solutions checks on everything."""
    # S3 log delivery through a bucket policy rather than a legacy ACL.
    app.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
    env = cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION"))
    context = app.node.try_get_context
    try:
        cost = CostSettings(
            nat=_setting(app, "nat", "instance", str),
            database_min_acu=_setting(app, "databaseMinAcu", 0.0, float),
            stream_retention_hours=_setting(app, "streamRetentionHours", 24, _whole),
        )
    except ValueError as exc:
        sys.exit(f"cdk: {exc}")
    data = StatefulStack(app, "QuantTerminalData", alert_email=context("alertEmail") or "", cost=cost, env=env)
    try:
        loaded = load_config(context("config") or os.environ.get("QT_CONFIG") or None)
    except ConfigError as exc:
        sys.exit(f"cdk: configuration: {exc}")
    settings = PipelineSettings(
        loaded,
        symbols_override=context("symbols") or "",
        operator_email=context("alertEmail") or "",
        reserved_concurrency=_setting(app, "reservedConcurrency", 2, _whole),
        container_insights=_setting(app, "containerInsights", False, _flag),
        feed_spot=_setting(app, "feedSpot", True, _flag),
    )
    pipeline = PipelineStack(app, "QuantTerminalPipeline", data=data, settings=settings, env=env)
    cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    return data, pipeline


if __name__ == "__main__":
    warning = warn_on_old_node()
    if warning:
        sys.stderr.write(warning + "\n")
    application = cdk.App()
    build(application)
    application.synth()
