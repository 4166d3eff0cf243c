"""boto3 clients as every AWS call here makes them: botocore's standard retry mode (exponential
backoff with jitter on throttling and 5xx, 5 attempts) and bounded connect/read timeouts."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=10)


def client(service: str) -> Any:
    """A boto3 client for ``service`` with retries and timeouts."""
    return boto3.client(service, config=CLIENT_CONFIG)
