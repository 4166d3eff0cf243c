"""The process environment, read once into one typed object at the boundary: what the CDK app sets
on the Lambdas and the feed task, and what a user sets in a shell for the CLI. Nothing else in the
package reads ``os.environ`` by name; the names themselves are ``quantterminal.constants``.

Values are validated here (a number that is not one, an unknown provider), so a mistyped variable
fails at start-up with its name, not deep in a handler. Keys and URLs that may hold a password are
``SecretStr``: the object's ``repr`` never shows them. An empty variable counts as unset.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from quantterminal import constants as c


def _secret(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value() or None


class Environment(BaseSettings):
    """Every environment variable the package reads (see ``constants`` for each one's meaning)."""

    model_config = SettingsConfigDict(
        frozen=True, extra="ignore", case_sensitive=True, populate_by_name=False, env_ignore_empty=True
    )

    # what to run
    config: str | None = Field(None, validation_alias=c.ENV_CONFIG)
    account: str | None = Field(None, validation_alias=c.ENV_ACCOUNT)
    strategies: str | None = Field(None, validation_alias=c.ENV_STRATEGIES)  # comma-separated instance names
    symbols: str | None = Field(None, validation_alias=c.ENV_SYMBOLS)  # comma-separated
    max_bar_age_seconds: float | None = Field(None, validation_alias=c.ENV_MAX_BAR_AGE, ge=0, allow_inf_nan=False)
    # state and ledger
    database_url: SecretStr | None = Field(None, validation_alias=c.ENV_DATABASE_URL)
    db_secret_id: str | None = Field(None, validation_alias=c.ENV_DB_SECRET_ID)
    redis_url: SecretStr | None = Field(None, validation_alias=c.ENV_REDIS_URL)
    redis_secret_id: str | None = Field(None, validation_alias=c.ENV_REDIS_SECRET_ID)
    # brokers and market data
    alpaca_secret_id: str | None = Field(None, validation_alias=c.ENV_ALPACA_SECRET_ID)
    polygon_secret_id: str | None = Field(None, validation_alias=c.ENV_POLYGON_SECRET_ID)
    apca_api_key_id: SecretStr | None = Field(None, validation_alias=c.ENV_APCA_API_KEY_ID)
    apca_api_secret_key: SecretStr | None = Field(None, validation_alias=c.ENV_APCA_API_SECRET_KEY)
    apca_api_base_url: str | None = Field(None, validation_alias=c.ENV_APCA_API_BASE_URL)
    apca_data_url: str | None = Field(None, validation_alias=c.ENV_APCA_DATA_URL)
    apca_stream_url: str | None = Field(None, validation_alias=c.ENV_APCA_STREAM_URL)
    alpaca_paper: bool | None = Field(None, validation_alias=c.ENV_ALPACA_PAPER)
    polygon_api_key: SecretStr | None = Field(None, validation_alias=c.ENV_POLYGON_API_KEY)
    polygon_url: str | None = Field(None, validation_alias=c.ENV_POLYGON_URL)
    # the feed task
    bars_stream: str | None = Field(None, validation_alias=c.ENV_BARS_STREAM)
    orders_stream: str | None = Field(None, validation_alias=c.ENV_ORDERS_STREAM)
    feed_provider: Literal["alpaca", "polygon"] = Field("alpaca", validation_alias=c.ENV_FEED_PROVIDER)
    feed_url: str | None = Field(None, validation_alias=c.ENV_FEED_URL)
    feed_health_file: str = Field(c.FEED_HEALTH_FILE, validation_alias=c.ENV_FEED_HEALTH_FILE)
    feed_keys_retry_seconds: float = Field(60.0, validation_alias=c.ENV_FEED_KEYS_RETRY_SECONDS, gt=0)
    feed_quiet_minutes: int | None = Field(None, validation_alias=c.ENV_FEED_QUIET_MINUTES, ge=0)
    feed_silence_seconds: float = Field(5.0, validation_alias=c.ENV_FEED_SILENCE_SECONDS, gt=0)
    # scheduled jobs, the API, the trade log
    reports_bucket: str | None = Field(None, validation_alias=c.ENV_REPORTS_BUCKET)
    alert_topic_arn: str | None = Field(None, validation_alias=c.ENV_ALERT_TOPIC_ARN)
    backfill_sessions: int = Field(1, validation_alias=c.ENV_BACKFILL_SESSIONS, ge=1)
    trade_log_bucket: str | None = Field(None, validation_alias=c.ENV_TRADE_LOG_BUCKET)
    api_key: SecretStr | None = Field(None, validation_alias=c.ENV_API_KEY)

    @classmethod
    def read(cls, environ: Mapping[str, str] | Environment | None = None) -> Environment:
        """The environment of this process (``None``), or of the mapping given (tests, a child
        process's environment), validated; an ``Environment`` is returned as it is."""
        if isinstance(environ, Environment):
            return environ
        if environ is None:
            return cls()  # type: ignore[call-arg]  # every field has a default; pydantic-settings reads os.environ
        names = {str(f.validation_alias) for f in cls.model_fields.values()}
        return cls.model_validate({k: v for k, v in environ.items() if k in names and str(v).strip()})

    def secret(self, name: str) -> str | None:
        """A key or URL's value (``database_url``, ``apca_api_secret_key`` ...), or ``None`` if unset."""
        value = getattr(self, name)
        return _secret(value) if isinstance(value, SecretStr) or value is None else str(value)

    def names(self, field: str) -> tuple[str, ...]:
        """A comma-separated variable (``symbols``, ``strategies``) as its items."""
        text = getattr(self, field) or ""
        return tuple(s.strip() for s in str(text).split(",") if s.strip())
