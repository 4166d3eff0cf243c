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
from quantterminal.environment import Environment
from quantterminal.errors import SecretError

SECRET_MAX_AGE_SECONDS = 300  # a rotated secret is picked up within five minutes


def secret_json(secret_id: str, client: Any | None = None, fresh: bool = False) -> dict[str, str]:
    """The JSON object stored in secret ``secret_id`` (``fresh``: read now, not from the cache --
    after the service refused the value the cache holds)."""
    provider = SecretsProvider(boto3_client=client or aws.client("secretsmanager"))
    try:
        value = provider.get(secret_id, transform="json", max_age=SECRET_MAX_AGE_SECONDS, force_fetch=fresh)
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


def feed_keys(
    provider: str, environ: Mapping[str, str] | Environment | None, client: Any | None = None, fresh: bool = False
) -> tuple[str, str]:
    """The (key, secret) for a market data provider: from the Secrets Manager secret named by
    ``ALPACA_SECRET_ID`` / ``POLYGON_SECRET_ID`` if set (a JSON object with the same names as the
    variables), else from the environment (``APCA_API_KEY_ID`` + ``APCA_API_SECRET_KEY``;
    ``POLYGON_API_KEY``). ``fresh``: past the cache (the provider refused the cached keys)."""
    env = Environment.read(environ)
    if provider == "polygon":
        if env.polygon_secret_id:
            stored = secret_json(env.polygon_secret_id, client, fresh=fresh)
            _check_set(stored, (c.ENV_POLYGON_API_KEY,), f"secret {env.polygon_secret_id}")
            key = stored.get(c.ENV_POLYGON_API_KEY, "")
        else:
            key = env.secret("polygon_api_key") or ""
        if not key:
            raise SecretError(f"Polygon API key missing: set {c.ENV_POLYGON_API_KEY} or {c.ENV_POLYGON_SECRET_ID}")
        return key, ""
    if env.alpaca_secret_id:
        stored = secret_json(env.alpaca_secret_id, client, fresh=fresh)
        fields = (c.ENV_APCA_API_KEY_ID, c.ENV_APCA_API_SECRET_KEY)
        _check_set(stored, fields, f"secret {env.alpaca_secret_id}")
        key, secret = stored.get(fields[0], ""), stored.get(fields[1], "")
    else:
        key, secret = env.secret("apca_api_key_id") or "", env.secret("apca_api_secret_key") or ""
    if not key or not secret:
        wanted = f"{c.ENV_APCA_API_KEY_ID} and {c.ENV_APCA_API_SECRET_KEY}, or {c.ENV_ALPACA_SECRET_ID}"
        raise SecretError(f"Alpaca keys missing: set {wanted}")
    return key, secret
