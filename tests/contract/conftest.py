"""Fixtures shared by the contract suites: a migrated ledger of each kind, cleaned up afterwards,
and the fake Alpaca REST server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from quantterminal.adapters.ledger.postgres_ledger import PostgresLedger
from quantterminal.adapters.ledger.sqlite_ledger import SqliteLedger
from quantterminal.errors import redact
from tests.fakes.alpaca_server import FakeAlpaca
from tests.services import POSTGRES_URL, check_postgres, drop_schema, new_schema, require


@pytest.fixture(params=["sqlite", "postgres"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqliteLedger | PostgresLedger]:
    """A migrated SQLite ledger, and one in a fresh schema of the real PostgreSQL."""
    if request.param == "sqlite":
        sqlite = SqliteLedger(tmp_path / "ledger.sqlite3")
        sqlite.migrate()
        yield sqlite
        sqlite.close()
        return
    require("PostgreSQL at " + redact(POSTGRES_URL), check_postgres)
    schema = new_schema()
    pg = PostgresLedger(POSTGRES_URL, schema=schema)
    pg.migrate()
    yield pg
    pg.close()
    drop_schema(schema)


@pytest.fixture
def alpaca() -> Iterator[FakeAlpaca]:
    """The fake Alpaca trading REST server (see tests/fakes/alpaca_server.py), started and stopped."""
    with FakeAlpaca() as server:
        yield server
