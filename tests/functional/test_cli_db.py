"""``qterm db`` and ``qterm backtest --data <ledger URL>`` end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from quantterminal.adapters import retry
from quantterminal.cli.main import main
from quantterminal.wiring.console_logging import RETRY_LOGGER
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
        "--start",
        "2013-10-07",
        "--end",
        "2013-10-08",
    )[1]
    from_ledger = run(
        capsys, "backtest", "--strategy", "momentum", "--data", database, "--start", "2013-10-07", "--end", "2013-10-08"
    )[1]
    assert "Backtest: BAC, IBM, SPY - 2,340 1-minute bars, 2013-10-07 to 2013-10-08" in from_ledger
    # the file's pre/post-market bars are left out by the session rule: the same run as the ledger's
    assert "pre/post-market bars left out" in from_csv
    assert [line for line in from_csv.splitlines() if "pre/post-market" not in line] == from_ledger.splitlines()

    # retention shows what it would drop and drops nothing without --yes
    code, out, _ = run(capsys, "db", "retention", "--keep-days", "30", "--database", database)
    assert code == 0
    assert "would drop" in out
    assert "nothing was dropped; run again with --yes" in out
    assert "Backtest: BAC, IBM, SPY" in run(capsys, "backtest", "--strategy", "momentum", "--data", database)[1]
    code, out, _ = run(capsys, "db", "retention", "--keep-days", "30", "--database", database, "--yes")
    assert code == 0
    assert "dropped: " in out
    code, _, err = run(capsys, "backtest", "--strategy", "momentum", "--data", database)
    assert code == 2
    assert "no bars in" in err

    assert "migrations: 0001_initial, 0002_integrity" in run(capsys, "db", "status", "--database", database)[1]
    assert "quarantine is empty" in run(capsys, "db", "quarantine", "--database", database)[1]


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


def one_line_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, out, err = run(capsys, *args)
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1, err
    return err.strip()


@pytest.mark.parametrize(
    "command", [["db", "migrate"], ["db", "status"], ["divergence"], ["db", "retention", "--keep-days", "3"]]
)
def test_postgresql_down_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    err = one_line_error(capsys, *command, "--database", "postgresql://postgres:s3cret@127.0.0.1:5999/test")
    assert "PostgreSQL is not reachable" in err
    assert "s3cret" not in err


def test_a_missing_postgresql_database_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    require("PostgreSQL", check_postgres)
    err = one_line_error(capsys, "db", "migrate", "--database", POSTGRES_URL.rsplit("/", 1)[0] + "/nonesuch_qt")
    assert 'database "nonesuch_qt" does not exist' in err


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_ingest_before_migrate_says_to_migrate(capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str) -> None:
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
        (tmp_path / "new.sqlite3").touch()  # exists, never migrated
    else:
        require("PostgreSQL", check_postgres)
        schema = new_schema()
        url = f"{POSTGRES_URL}?schema={schema}"
    try:
        err = one_line_error(capsys, "db", "ingest", "--data", "sample:lean_2013", "--database", url)
        assert "no schema yet" in err
        assert "qterm db migrate" in err
    finally:
        if kind == "postgres":
            drop_schema(schema)


def test_redis_down_is_one_line_and_creates_no_ledger(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    ledger = tmp_path / "paper.sqlite3"
    err = one_line_error(
        capsys, "paper", "--no-api", "--database", f"sqlite:///{ledger}", "--redis", "redis://127.0.0.1:6999/0"
    )
    assert "Redis is not reachable" in err
    assert not ledger.exists()


def test_sqlite_files_are_never_created_by_mistake(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing_folder = tmp_path / "no" / "such" / "folder"
    err = one_line_error(capsys, "db", "migrate", "--database", f"sqlite:///{missing_folder}/ledger.sqlite3")
    assert f"the folder {missing_folder} does not exist" in err
    assert not (tmp_path / "no").exists()
    typo = tmp_path / "ledgr.sqlite3"
    for command in (["divergence"], ["db", "status"], ["db", "ingest", "--data", "sample:lean_2013"]):
        err = one_line_error(capsys, *command, "--database", f"sqlite:///{typo}")
        assert f"no ledger at {typo}" in err
    assert not typo.exists()


def test_the_quiet_filter_names_the_retry_logger() -> None:
    assert retry.log.name == RETRY_LOGGER


@pytest.mark.parametrize("database", ["nonesuch_qt", None])
def test_a_service_error_in_a_real_process_is_one_line_and_verbose_shows_the_retries(database: str | None) -> None:
    """Run as a user runs it (no test logging in the way): the retries before the error are quiet
    unless ``--verbose`` asks for them."""
    require("PostgreSQL", check_postgres)
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{database}" if database else "postgresql://127.0.0.1:5999/test"
    command = [sys.executable, "-m", "quantterminal.cli.main"]
    quiet = subprocess.run(
        [*command, "db", "migrate", "--database", url], capture_output=True, text=True, timeout=120, check=False
    )
    assert quiet.returncode == 2
    assert len(quiet.stderr.splitlines()) == 1, quiet.stderr
    assert quiet.stderr.startswith("qterm db: error: PostgreSQL")
    loud = subprocess.run(
        [*command, "-v", "db", "migrate", "--database", url], capture_output=True, text=True, timeout=120, check=False
    )
    assert loud.returncode == 2
    assert "retry 1/" in loud.stderr
    assert loud.stderr.splitlines()[-1] == quiet.stderr.strip()
