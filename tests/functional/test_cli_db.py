"""``qterm db`` and ``qterm backtest --data <ledger URL>`` end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from quantterminal.cli.main import main
from tests.services import POSTGRES_URL, check_postgres, drop_schema, new_schema, require


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
        return
    require("PostgreSQL", check_postgres)
    schema = new_schema()
    yield f"{POSTGRES_URL}?schema={schema}"
    drop_schema(schema)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_migrate_ingest_backtest_and_retention(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "db", "migrate", "--database", database)
    assert code == 0
    assert "applied 0001_initial" in out
    assert "schema is up to date" in run(capsys, "db", "migrate", "--database", database)[1]

    code, out, _ = run(capsys, "db", "ingest", "--data", "sample:lean_2013", "--rth", "--database", database)
    assert code == 0
    assert "7,018 bars of BAC, IBM, SPY: 7,018 new, 0 revised, 0 unchanged" in out
    assert (
        "0 new, 0 revised, 7,018 unchanged"
        in run(capsys, "db", "ingest", "--data", "sample:lean_2013", "--rth", "--database", database)[1]
    )

    from_csv = run(
        capsys,
        "backtest",
        "--strategy",
        "momentum",
        "--data",
        "sample:lean_2013",
        "--rth",
        "--start",
        "2013-10-07",
        "--end",
        "2013-10-08",
    )[1]
    from_ledger = run(
        capsys, "backtest", "--strategy", "momentum", "--data", database, "--start", "2013-10-07", "--end", "2013-10-08"
    )[1]
    assert "Backtest: BAC, IBM, SPY - 2,340 bars, 2013-10-07 to 2013-10-08" in from_ledger
    assert from_csv == from_ledger

    code, out, _ = run(capsys, "db", "retention", "--keep-days", "30", "--database", database)
    assert code == 0
    code, _, err = run(capsys, "backtest", "--strategy", "momentum", "--data", database)
    assert code == 2
    assert "no bars in" in err

    assert "migrations: 0001_initial" in run(capsys, "db", "status", "--database", database)[1]


def test_database_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "db", "migrate", "--database", "mysql://u:secret@h/db")
    assert code == 2
    assert (
        err.strip()
        == "qterm db: error: unsupported database URL 'mysql://u:***@h/db': use postgresql://... or sqlite:///..."
    )
    code, _, err = run(capsys, "db", "retention", "--keep-days", "0")
    assert code == 2
    assert "must be at least 1" in err
    code, _, err = run(capsys, "backtest", "--strategy", "momentum", "--start", "2013-01-02", "--end", "2013-01-01")
    assert (code, err.strip()) == (2, "qterm backtest: error: --start 2013-01-02 is after --end 2013-01-01")
