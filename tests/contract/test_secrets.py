"""Alpaca keys from AWS Secrets Manager (moto), never from code, never shown."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from quantterminal.adapters.aws.secrets import secret_json
from quantterminal.adapters.broker.alpaca_broker import AlpacaBroker
from quantterminal.errors import SecretError


@pytest.fixture
def secrets(aws_credentials: None) -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


def test_alpaca_keys_come_from_the_named_secret(secrets: Any) -> None:
    secrets.create_secret(
        Name="quantterminal/alpaca",
        SecretString=json.dumps({"APCA_API_KEY_ID": "PKSECRET", "APCA_API_SECRET_KEY": "very-secret"}),
    )
    broker = AlpacaBroker.from_env({"ALPACA_SECRET_ID": "quantterminal/alpaca"}, secrets_client=secrets)
    assert broker.paper
    assert broker._keys == ("PKSECRET", "very-secret")
    assert "very-secret" not in repr(broker)


def test_missing_or_malformed_secrets_are_clear_errors_without_the_value(secrets: Any) -> None:
    with pytest.raises(SecretError, match="'nope' does not exist"):
        secret_json("nope", secrets)
    secrets.create_secret(Name="bad", SecretString="hunter2-not-json")
    with pytest.raises(SecretError) as excinfo:
        secret_json("bad", secrets)
    assert "hunter2" not in str(excinfo.value)
