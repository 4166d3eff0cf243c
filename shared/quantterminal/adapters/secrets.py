"""Secrets from AWS Secrets Manager (boto3), for keys that must never live in code or logs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from quantterminal.adapters import aws


class SecretError(RuntimeError):
    """A secret that is missing or not the JSON object expected. The message never holds its value."""


def secret_json(secret_id: str, client: Any | None = None) -> dict[str, str]:
    """The JSON object stored in secret ``secret_id``."""
    client = client or aws.client("secretsmanager")
    try:
        response = client.get_secret_value(SecretId=secret_id)
    except client.exceptions.ResourceNotFoundException:
        raise SecretError(f"secret {secret_id!r} does not exist") from None
    try:
        value = json.loads(response["SecretString"])
    except (KeyError, TypeError, ValueError):
        raise SecretError(f"secret {secret_id!r} is not a JSON object") from None
    if not isinstance(value, dict):
        raise SecretError(f"secret {secret_id!r} is not a JSON object")
    return {str(k): str(v) for k, v in value.items()}


def feed_keys(provider: str, environ: Mapping[str, str], client: Any | None = None) -> tuple[str, str]:
    """The (key, secret) for a market data provider: from the Secrets Manager secret named by
    ``ALPACA_SECRET_ID`` / ``POLYGON_SECRET_ID`` if set, else from the environment
    (``APCA_API_KEY_ID`` + ``APCA_API_SECRET_KEY``; ``POLYGON_API_KEY``)."""
    if provider == "polygon":
        source = secret_json(environ["POLYGON_SECRET_ID"], client) if environ.get("POLYGON_SECRET_ID") else environ
        key, secret = source.get("POLYGON_API_KEY", ""), ""
        if not key:
            raise SecretError("Polygon API key missing: set POLYGON_API_KEY or POLYGON_SECRET_ID")
        return key, secret
    source = secret_json(environ["ALPACA_SECRET_ID"], client) if environ.get("ALPACA_SECRET_ID") else environ
    key, secret = source.get("APCA_API_KEY_ID", ""), source.get("APCA_API_SECRET_KEY", "")
    if not key or not secret:
        raise SecretError("Alpaca keys missing: set APCA_API_KEY_ID and APCA_API_SECRET_KEY, or ALPACA_SECRET_ID")
    return key, secret
