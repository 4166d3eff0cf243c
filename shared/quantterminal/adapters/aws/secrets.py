"""Secrets from AWS Secrets Manager, read through Powertools Parameters (cached for a few minutes,
so a warm Lambda does not call Secrets Manager on every invocation), for keys that must never live
in code or logs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError

from quantterminal import constants as c
from quantterminal.adapters.aws import clients as aws

SECRET_MAX_AGE_SECONDS = 300  # a rotated secret is picked up within five minutes


class SecretError(RuntimeError):
    """A secret that is missing or not the JSON object expected. The message never holds its value."""


def secret_json(secret_id: str, client: Any | None = None) -> dict[str, str]:
    """The JSON object stored in secret ``secret_id``."""
    provider = SecretsProvider(boto3_client=client or aws.client("secretsmanager"))
    try:
        value = provider.get(secret_id, transform="json", max_age=SECRET_MAX_AGE_SECONDS)
    except TransformParameterError:
        raise SecretError(f"secret {secret_id!r} is not a JSON object") from None
    except GetParameterError as exc:
        if "ResourceNotFoundException" in str(exc):
            raise SecretError(f"secret {secret_id!r} does not exist") from None
        raise SecretError(f"secret {secret_id!r} could not be read: {type(exc.__cause__ or exc).__name__}") from None
    if not isinstance(value, dict):
        raise SecretError(f"secret {secret_id!r} is not a JSON object")
    return {str(k): str(v) for k, v in value.items()}


class KeysNotSetError(SecretError):
    """The secret exists but still holds the placeholder the deployment created it with."""


def _check_set(values: Mapping[str, str], fields: tuple[str, ...], where: str) -> None:
    if any(values.get(f, "") in ("", c.SECRET_PLACEHOLDER) for f in fields):
        raise KeysNotSetError(f"{where} holds no keys yet: put {', '.join(fields)} into it (README: Deploy)")


def feed_keys(provider: str, environ: Mapping[str, str], client: Any | None = None) -> tuple[str, str]:
    """The (key, secret) for a market data provider: from the Secrets Manager secret named by
    ``ALPACA_SECRET_ID`` / ``POLYGON_SECRET_ID`` if set, else from the environment
    (``APCA_API_KEY_ID`` + ``APCA_API_SECRET_KEY``; ``POLYGON_API_KEY``)."""
    if provider == "polygon":
        source = secret_json(environ["POLYGON_SECRET_ID"], client) if environ.get("POLYGON_SECRET_ID") else environ
        if environ.get("POLYGON_SECRET_ID"):
            _check_set(source, ("POLYGON_API_KEY",), f"secret {environ['POLYGON_SECRET_ID']}")
        key, secret = source.get("POLYGON_API_KEY", ""), ""
        if not key:
            raise SecretError("Polygon API key missing: set POLYGON_API_KEY or POLYGON_SECRET_ID")
        return key, secret
    source = secret_json(environ["ALPACA_SECRET_ID"], client) if environ.get("ALPACA_SECRET_ID") else environ
    if environ.get("ALPACA_SECRET_ID"):
        _check_set(source, ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY"), f"secret {environ['ALPACA_SECRET_ID']}")
    key, secret = source.get("APCA_API_KEY_ID", ""), source.get("APCA_API_SECRET_KEY", "")
    if not key or not secret:
        raise SecretError("Alpaca keys missing: set APCA_API_KEY_ID and APCA_API_SECRET_KEY, or ALPACA_SECRET_ID")
    return key, secret
