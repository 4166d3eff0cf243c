"""Aurora's secret rotation (every 30 days, by default) against a warm Lambda: the process keeps the
old password, and its next connection is refused. The ledger re-reads the secret and reconnects.

The loopback PostgreSQL trusts every connection, so a password change would go unnoticed there:
this test starts a private PostgreSQL cluster that checks passwords (scram-sha-256, as Aurora does),
with the secret in moto shaped as CDK's ``DatabaseCluster`` stores it (username, password, host,
port, dbname -- docs: "Secrets Manager secret JSON structure for Amazon RDS").
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import boto3
import psycopg2
import pytest
from moto import mock_aws

from quantterminal.adapters.ledger.postgres_ledger import PostgresLedger
from quantterminal.core.accounting.records import EquitySnapshot
from quantterminal.wiring.runtime import ledger_from_env

BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(*command: str) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def checked_postgres() -> Iterator[tuple[int, Path]]:
    """A private PostgreSQL on a free loopback port that checks passwords: its port and data folder."""
    if not (BIN / "initdb").exists() or shutil.which("runuser") is None:
        pytest.fail("this test needs Debian's PostgreSQL 15 binaries and runuser (the CI machine has both)")
    data = Path(f"/tmp/qt-pg-{uuid.uuid4().hex[:8]}")
    data.mkdir()
    shutil.chown(data, "postgres", "postgres")
    port = _free_port()
    _as_postgres(
        str(BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth-host=scram-sha-256", "--auth-local=trust"
    )
    _as_postgres(
        str(BIN / "pg_ctl"), "-D", str(data), "-w", "-l", str(data / "log"),
        "-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1", "start",
    )  # fmt: skip
    try:
        _as_postgres(str(BIN / "psql"), "-h", str(data), "-p", str(port), "-c", "CREATE DATABASE ledger")
        yield port, data
    finally:
        _as_postgres(str(BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(data, ignore_errors=True)


def _admin(port: int, sql: str) -> None:
    conn = psycopg2.connect(host="127.0.0.1", port=port, user="qt_admin", password="admin-pw", dbname="ledger")
    conn.autocommit = True
    with conn, conn.cursor() as cur:
        cur.execute(sql)
    conn.close()


def test_a_rotated_password_is_read_again_and_the_ledger_carries_on(
    checked_postgres: tuple[int, Path], aws_credentials: None
) -> None:
    port, data = checked_postgres
    _as_postgres(
        str(BIN / "psql"), "-h", str(data), "-p", str(port), "-d", "ledger", "-c",
        "CREATE ROLE qt_admin LOGIN SUPERUSER PASSWORD 'admin-pw'; CREATE ROLE quantterminal LOGIN PASSWORD 'first';"
        " GRANT ALL ON DATABASE ledger TO quantterminal; GRANT ALL ON SCHEMA public TO quantterminal;",
    )  # fmt: skip
    secret = {"username": "quantterminal", "password": "first", "host": "127.0.0.1", "port": str(port)}
    secret |= {"dbname": "ledger", "engine": "postgres"}
    with mock_aws():
        client = boto3.client("secretsmanager")
        arn = client.create_secret(Name="QuantTerminalDb", SecretString=json.dumps(secret))["ARN"]
        ledger = ledger_from_env({"QT_DB_SECRET_ID": arn}, client)
        assert isinstance(ledger, PostgresLedger)
        ledger.migrate()
        at = datetime(2026, 1, 5, 15, tzinfo=UTC)
        ledger.record_equity(EquitySnapshot("paper", at, Decimal("100000"), Decimal("100000")))
        # the rotation: a new password in the database and in the secret; open sessions are cut
        _admin(port, "ALTER ROLE quantterminal PASSWORD 'second'")
        client.put_secret_value(SecretId=arn, SecretString=json.dumps(secret | {"password": "second"}))
        _admin(port, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'quantterminal'")
        # the old password is refused now -- and the ledger recovers by itself
        with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
            psycopg2.connect(host="127.0.0.1", port=port, user="quantterminal", password="first", dbname="ledger")
        ledger.record_equity(EquitySnapshot("paper", at.replace(minute=1), Decimal("100010"), Decimal("100000")))
        curve = ledger.equity_curve("paper", at, at.replace(hour=16))
        assert [s.equity for s in curve] == [Decimal("100000"), Decimal("100010")]
        assert "second" in ledger.dsn  # it holds the new credentials
        ledger.close()
