"""The environment is read once into one typed object: names from ``constants``, values checked at
start-up with the variable's name, empty as unset, keys never shown."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from quantterminal import constants as c
from quantterminal.environment import Environment


def test_a_mapping_is_read_with_types_and_defaults() -> None:
    env = Environment.read(
        {
            c.ENV_SYMBOLS: " spy, qqq ,",
            c.ENV_MAX_BAR_AGE: "30",
            c.ENV_ALPACA_PAPER: "false",
            c.ENV_FEED_PROVIDER: "",
            "UNRELATED": "x",
        }
    )
    assert env.names("symbols") == ("spy", "qqq")
    assert env.max_bar_age_seconds == 30.0
    assert env.alpaca_paper is False
    assert env.feed_provider == "alpaca", "an empty variable counts as unset"
    assert env.feed_health_file == c.FEED_HEALTH_FILE
    assert Environment.read(env) is env


def test_the_process_environment_is_read_when_none_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(c.ENV_ACCOUNT, "live-1")
    monkeypatch.setenv(c.ENV_BACKFILL_SESSIONS, "3")
    env = Environment.read()
    assert (env.account, env.backfill_sessions) == ("live-1", 3)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (c.ENV_MAX_BAR_AGE, "soon"),
        (c.ENV_MAX_BAR_AGE, "-1"),
        (c.ENV_MAX_BAR_AGE, "inf"),
        (c.ENV_FEED_PROVIDER, "ib"),
        (c.ENV_BACKFILL_SESSIONS, "0"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Environment.read({name: value})
    assert name in str(caught.value)


def test_keys_and_urls_with_passwords_never_show() -> None:
    env = Environment.read(
        {
            c.ENV_APCA_API_SECRET_KEY: "s3cr3t-key",
            c.ENV_DATABASE_URL: "postgresql://u:hunter2@db/x",
            c.ENV_API_KEY: "api-key-value",
        }
    )
    shown = f"{env!r} {env}"
    for secret in ("s3cr3t-key", "hunter2", "api-key-value"):
        assert secret not in shown
    assert env.secret("database_url") == "postgresql://u:hunter2@db/x"
    assert env.secret("redis_url") is None
