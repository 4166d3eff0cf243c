"""Least privilege in the wiring: a function given no Alpaca keys gets no broker, and anything
that tries to reach one fails loudly instead of trading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from quantterminal.core.market_data.feed_events import BarSource, BarUpdate
from quantterminal.core.models import Bar
from quantterminal.wiring.runtime import NoBroker, NoBrokerError, Runtime


def test_a_function_without_the_alpaca_secret_cannot_trade(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/ledger.sqlite3", "QT_STRATEGIES": "momentum"}
    runtime = Runtime.from_env(env)
    runtime.ledger.migrate()  # type: ignore[attr-defined]
    assert isinstance(runtime.broker, NoBroker)
    with pytest.raises(NoBrokerError, match="no broker"):
        runtime.broker.account()
    # reads work (what the API and the reports need) ...
    assert runtime.queries is not None
    # ... and a decision that would place an order fails loudly, leaving nothing half-placed
    t0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
    bars = [Bar("SPY", t0 + timedelta(minutes=i), 100.0 + i, 100.0 + i, 100.0 + i, 100.0 + i, 1000) for i in range(40)]

    def decide_all() -> None:
        for bar in bars:
            runtime.desk.step(BarUpdate(bar, BarSource.PROVIDER), bar.timestamp + timedelta(minutes=1))

    with pytest.raises(NoBrokerError):
        decide_all()
    assert runtime.store.open_orders("paper") == []
    runtime.ledger.close()


def test_the_state_store_connects_as_the_cache_user_in_its_secret(aws_credentials: None) -> None:
    """ElastiCache's default user is off (CDK); the functions connect as the pipeline's user with
    the password in QT_REDIS_SECRET_ID. Here a real Redis ACL user, the secret in moto."""
    import json
    import uuid

    import boto3
    import redis
    from moto import mock_aws

    from quantterminal.wiring.factories import open_state_store
    from quantterminal.wiring.runtime import state_url_from_env
    from tests.services import REDIS_URL, check_redis, require

    require("Redis at 127.0.0.1:6379", check_redis)
    admin = redis.Redis.from_url(REDIS_URL)
    user, password = f"qt_{uuid.uuid4().hex[:8]}", "p@ss/w:rd" + uuid.uuid4().hex
    admin.acl_setuser(user, enabled=True, passwords=[f"+{password}"], keys=["qtacl:*"], commands=["+@all"])
    try:
        with mock_aws():
            client = boto3.client("secretsmanager")
            secret = {"username": user, "password": password}
            arn = client.create_secret(Name="CacheUser", SecretString=json.dumps(secret))["ARN"]
            env = {"REDIS_URL": REDIS_URL, "QT_REDIS_SECRET_ID": arn}
            url = state_url_from_env(env, client)
            assert url is not None
            assert redis.Redis.from_url(url).acl_whoami() == user  # the password's odd characters survive
            open_state_store(url, prefix="qtacl").close()  # type: ignore[union-attr]
            client.put_secret_value(SecretId=arn, SecretString=json.dumps(secret | {"password": "wrong"}))
            with pytest.raises(redis.AuthenticationError):
                open_state_store(state_url_from_env(env, client), prefix="qtacl")
    finally:
        admin.acl_deluser(user)


@pytest.mark.parametrize(("kind", "mode"), [("simulated", "paper"), ("alpaca-paper", "paper"), ("alpaca-live", "live")])
def test_the_api_says_whether_the_account_trades_paper_or_live(tmp_path: Path, kind: str, mode: str) -> None:
    """Live is the configuration's explicit ``[broker] kind``; the API (and the dashboard's badge)
    show it, so nobody mistakes a live account for a paper one. In AWS the simulator never runs:
    the shipped ``simulated`` default trades Alpaca's paper account, and says so -- in the API
    function too, which holds no trading keys."""
    config = tmp_path / "qt.toml"
    config.write_text(f'[[strategies]]\nname = "m"\nstrategy = "momentum"\n\n[broker]\nkind = "{kind}"\n')
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/ledger.sqlite3", "QT_CONFIG": str(config)}
    runtime = Runtime.from_env(env)
    runtime.ledger.migrate()  # type: ignore[attr-defined]
    assert runtime.queries.risk()["trading_mode"] == mode
    runtime.ledger.close()


def test_late_bars_are_history_not_decisions(tmp_path: Path) -> None:
    """A minute that arrives after later ones (say, inside a gap history could not fill) is stored
    by the ledger's sink but decided on by nobody: here any decision would reach for the absent
    broker and fail."""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/ledger.sqlite3", "QT_STRATEGIES": "momentum"}
    runtime = Runtime.from_env(env)
    runtime.ledger.migrate()  # type: ignore[attr-defined]
    t0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
    for i in range(40):
        bar = Bar("SPY", t0 + timedelta(minutes=i), 100.0 + i, 100.0 + i, 100.0 + i, 100.0 + i, 1000)
        outcome = runtime.desk.step(BarUpdate(bar, BarSource.LATE), bar.timestamp + timedelta(minutes=1))
        assert outcome.decisions == {}
        assert outcome.traded is False
    runtime.ledger.close()
