"""``qterm data download`` against the loopback history server (``HistoryServer``), which pages,
checks keys and rate-limits as Alpaca's and Polygon's documentation describe: bars arrive whole
and equal to the source, paging and resuming fetch nothing twice, rate limits and 5xx are waited
out, and bad input is one line with exit status 2 and nothing written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path

import pytest

from quantterminal.adapters.market_data.csv_bars import SAMPLE_ROOT, load_bars
from quantterminal.adapters.market_data.parquet_bars import parquet_metadata
from quantterminal.adapters.replay.history_server import HistoryServer
from quantterminal.cli.main import main
from quantterminal.core.market_data.sessions import NEW_YORK
from quantterminal.core.market_data.timeframes import resample
from quantterminal.core.models import Bar
from tests.services import POSTGRES_URL, check_postgres, drop_schema, new_schema, require

KEYS = ("key-id", "secret-key")
SPY_2011 = load_bars(SAMPLE_ROOT / "spy_2011")["SPY"]  # January and March 2011, extended hours
WINDOW = ["--start", "2011-01-01", "--end", "2011-03-31"]


@pytest.fixture
def alpaca_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APCA_API_KEY_ID", KEYS[0])
    monkeypatch.setenv("APCA_API_SECRET_KEY", KEYS[1])
    monkeypatch.delenv("ALPACA_SECRET_ID", raising=False)


@pytest.fixture
def server() -> Iterator[HistoryServer]:
    with HistoryServer(SPY_2011, keys=KEYS) as history:
        yield history


def strip(bars: list[Bar]) -> list[tuple[object, ...]]:
    """What the download must keep of a bar (the server adds a VWAP and a count the CSV lacks)."""
    return [(b.timestamp, b.open, b.high, b.low, b.close, b.volume) for b in bars]


def download(url: str, out: Path, *more: str) -> int:
    return main(["data", "download", "--symbols", "SPY", *WINDOW, "--url", url, "--out", str(out), *more])


@pytest.mark.usefixtures("alpaca_env")
def test_pages_into_parquet_files_that_backtests_read(server: HistoryServer, tmp_path: Path) -> None:
    out = tmp_path / "bars"
    assert download(server.url, out) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "SPY_1min_2011-01.parquet",
        "SPY_1min_2011-02.parquet",  # no data that month: an empty file says the month was fetched
        "SPY_1min_2011-03.parquet",
    ]
    assert strip(load_bars(out)["SPY"]) == strip(SPY_2011)
    pages = -(-sum(b.timestamp.month == 1 for b in SPY_2011) // 10_000) - (
        -sum(b.timestamp.month == 3 for b in SPY_2011) // 10_000
    )
    assert server.requests == pages + 1  # a page of 10,000 (Alpaca's most) at a time, and one for February
    meta = parquet_metadata(out / "SPY_1min_2011-01.parquet")
    assert meta is not None
    assert (meta["source"], meta["feed"], meta["adjustment"], meta["timeframe"]) == ("alpaca", "iex", "raw", "1min")
    csv_run = tmp_path / "csv.txt"
    parquet_run = tmp_path / "parquet.txt"
    for data, file in ((str(SAMPLE_ROOT / "spy_2011"), csv_run), (str(out), parquet_run)):
        result = subprocess.run(
            [sys.executable, "-m", "quantterminal.cli.main", "backtest", "--strategy", "momentum", "--data", data],
            capture_output=True,
            text=True,
            check=True,
        )
        file.write_text(result.stdout)
    assert parquet_run.read_text() == csv_run.read_text()


@pytest.mark.usefixtures("alpaca_env")
def test_a_second_run_skips_finished_months_and_a_wider_one_fetches_only_the_new(
    server: HistoryServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bars"
    assert (
        main(
            [
                "data",
                "download",
                "--symbols",
                "SPY",
                "--start",
                "2011-01-01",
                "--end",
                "2011-01-31",
                "--url",
                server.url,
                "--out",
                str(out),
            ]
        )
        == 0
    )
    first = server.requests
    assert download(server.url, out) == 0
    assert "2 month(s) fetched, 1 done before" in capsys.readouterr().out
    second = server.requests - first
    assert download(server.url, out) == 0
    assert server.requests - first == second  # the third run asked for nothing
    assert "0 month(s) fetched, 3 done before" in capsys.readouterr().out
    assert strip(load_bars(out)["SPY"]) == strip(SPY_2011)


@pytest.mark.usefixtures("alpaca_env")
def test_small_pages_are_followed_to_the_end(tmp_path: Path) -> None:
    with HistoryServer(SPY_2011, keys=KEYS, page_size=997) as history:
        assert download(history.url, tmp_path) == 0
        assert history.requests > 30
    assert strip(load_bars(tmp_path)["SPY"]) == strip(SPY_2011)


@pytest.mark.usefixtures("alpaca_env")
def test_keeps_to_the_rate_limit_headers_and_waits_out_429_and_5xx(tmp_path: Path) -> None:
    with HistoryServer(SPY_2011, keys=KEYS, page_size=2000, rate_limit=4, window=1.0) as history:
        history.fail_next = 2
        started = time.monotonic()
        assert download(history.url, tmp_path) == 0
        elapsed = time.monotonic() - started
        # 17 pages and 2 failures at 4 a second: it waited for resets rather than be refused
        assert history.requests >= 19
        assert history.refused == 0
        assert elapsed >= 3
    assert strip(load_bars(tmp_path)["SPY"]) == strip(SPY_2011)


def test_polygon_pages_by_next_url_and_retries_after_429(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYGON_API_KEY", "poly-key")
    monkeypatch.delenv("POLYGON_SECRET_ID", raising=False)
    # Polygon sends no rate-limit headers: the client learns of the limit from its 429s.
    with HistoryServer(SPY_2011, polygon_key="poly-key", page_size=5000, rate_limit=5, window=1.0) as history:
        assert download(history.url, tmp_path, "--source", "polygon") == 0
        assert history.refused >= 1
    assert strip(load_bars(tmp_path)["SPY"]) == strip(SPY_2011)
    meta = parquet_metadata(tmp_path / "SPY_1min_2011-03.parquet")
    assert meta is not None
    assert (meta["source"], meta["adjustment"]) == ("polygon", "split")


@pytest.mark.usefixtures("alpaca_env")
def test_daily_bars_are_the_sessions_stamped_at_midnight_new_york(server: HistoryServer, tmp_path: Path) -> None:
    assert download(server.url, tmp_path, "--timeframe", "1day") == 0
    daily = load_bars(tmp_path)["SPY"]
    assert strip(daily) == strip(resample(SPY_2011, "1day"))
    assert {b.timestamp.astimezone(NEW_YORK).time() for b in daily} == {dt_time(0)}


@pytest.mark.usefixtures("alpaca_env")
def test_killed_mid_download_resumes_without_fetching_a_finished_month_again(tmp_path: Path) -> None:
    out = tmp_path / "bars"
    env = {**os.environ, "APCA_API_KEY_ID": KEYS[0], "APCA_API_SECRET_KEY": KEYS[1]}
    command = [sys.executable, "-m", "quantterminal.cli.main", "data", "download", "--symbols", "SPY", *WINDOW]
    with HistoryServer(SPY_2011, keys=KEYS, page_size=1000, rate_limit=5, window=1.0) as history:
        process = subprocess.Popen([*command, "--url", history.url, "--out", str(out)], env=env)
        deadline = time.monotonic() + 60
        while not (out / "SPY_1min_2011-01.parquet").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert process.returncode == -signal.SIGKILL
        assert not (out / "SPY_1min_2011-03.parquet").exists()  # killed inside March: nothing of it kept
        # the new process may start inside the killed one's rate-limit window: count answered pages
        before = history.requests - history.refused
        result = subprocess.run(
            [*command, "--url", history.url, "--out", str(out)], env=env, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr
        march = -(-sum(b.timestamp.month == 3 for b in SPY_2011) // 1000)
        assert history.requests - history.refused - before <= march + 1  # January was not fetched again
    assert strip(load_bars(out)["SPY"]) == strip(SPY_2011)


@pytest.mark.usefixtures("alpaca_env")
@pytest.mark.parametrize("where", ["sqlite", "postgresql"])
def test_into_a_ledger_page_by_page_resuming_from_the_last_stored_bar(
    server: HistoryServer, tmp_path: Path, where: str
) -> None:
    schema = None
    if where == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    else:
        require("PostgreSQL", check_postgres)
        schema = new_schema()
        url = f"{POSTGRES_URL}?schema={schema}"
    try:
        assert main(["db", "migrate", "--database", url]) == 0
        args = ["data", "download", "--symbols", "SPY", "--url", server.url, "--database", url]
        assert main([*args, "--start", "2011-01-01", "--end", "2011-01-14"]) == 0
        first = server.requests
        assert main([*args, *WINDOW]) == 0
        assert main([*args, *WINDOW]) == 0  # once more: one request a month, from its last stored bar
        assert server.requests - first <= 2 * 3 + 1 + 3
        from quantterminal.wiring.factories import open_ledger

        ledger = open_ledger(url)
        try:
            stored = ledger.bars_between(SPY_2011[0].timestamp, SPY_2011[-1].timestamp + timedelta(minutes=1))
        finally:
            ledger.close()
        assert strip(stored["SPY"]) == strip(SPY_2011)
    finally:
        if schema is not None:
            drop_schema(schema)


@pytest.mark.usefixtures("alpaca_env")
@pytest.mark.parametrize(
    ("more", "message"),
    [
        (["--start", "2011-03-01", "--end", "2011-01-01"], "is after --end"),
        (["--timeframe", "1day", "--database", "sqlite:///x.sqlite3"], "a ledger holds minute bars"),
        (["--source", "polygon", "--feed", "sip"], "--feed is Alpaca's"),
        (["--source", "polygon", "--adjustment", "dividend"], "polygon adjusts for splits only"),
        (["--start", "2011-13-01"], "expected a date"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_with_nothing_written(
    server: HistoryServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    more: list[str],
    message: str,
) -> None:
    monkeypatch.setenv("POLYGON_API_KEY", "poly-key")
    monkeypatch.chdir(tmp_path)
    base = ["data", "download", "--symbols", "SPY", *WINDOW, "--url", server.url]
    if "--database" not in more:
        base += ["--out", str(tmp_path / "bars")]
    with pytest.raises(SystemExit) as exited:
        raise SystemExit(main([*base, *more]))
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "bars").exists()
    assert server.requests == 0


def test_refused_keys_are_one_line_naming_the_refusal(
    server: HistoryServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APCA_API_KEY_ID", "wrong")
    monkeypatch.setenv("APCA_API_SECRET_KEY", "wrong-secret")
    assert download(server.url, tmp_path / "bars") == 2
    err = capsys.readouterr().err
    assert "HTTP 403: forbidden." in err
    assert "wrong-secret" not in err
    assert not (tmp_path / "bars").exists()


@pytest.mark.usefixtures("alpaca_env")
def test_recent_sip_data_is_not_asked_for(server: HistoryServer, tmp_path: Path) -> None:
    """Alpaca refuses SIP bars of the last 15 minutes to plans without them (HTTP 403): a download
    up to today stops 15 minutes short instead of failing."""
    today = datetime.now(UTC).date()
    args = ["data", "download", "--symbols", "SPY", "--start", str(today - timedelta(days=2)), "--end", str(today)]
    args += ["--feed", "sip"]
    assert main([*args, "--url", server.url, "--out", str(tmp_path)]) == 0


@pytest.mark.usefixtures("alpaca_env")
def test_a_notebook_downloads_and_gets_the_bars_as_a_dataframe(server: HistoryServer, tmp_path: Path) -> None:
    import quantterminal as qt

    frame = qt.download(["spy"], "2011-03-01", "2011-03-31", out=tmp_path, url=server.url)
    march = [b for b in SPY_2011 if b.timestamp.month == 3]
    assert len(frame) == len(march)
    assert list(frame.columns) == ["symbol", "timestamp", "open", "high", "low", "close", "volume"]
    assert frame.close.tolist() == [b.close for b in march]
    assert (tmp_path / "SPY_1min_2011-03.parquet").exists()


@pytest.mark.usefixtures("alpaca_env")
@pytest.mark.parametrize("misbehaviour", ["overlap", "reverse", "cut"])
def test_overlapping_reversed_or_cut_pages_still_give_the_source_once_sorted(tmp_path: Path, misbehaviour: str) -> None:
    with HistoryServer(SPY_2011, keys=KEYS, page_size=3_000) as server:
        if misbehaviour == "cut":
            server.cut_next = 2  # two answers cut off mid-body: asked again
        else:
            server.misbehave = misbehaviour
        out = tmp_path / "bars"
        assert download(server.url, out) == 0
    assert strip(load_bars(out)["SPY"]) == strip(SPY_2011)


@pytest.mark.usefixtures("alpaca_env")
@pytest.mark.parametrize(
    ("misbehaviour", "message"),
    [
        ("repeat_token", "the server named page"),
        ("list_body", "the server answered list, not a JSON object"),
    ],
)
def test_a_server_that_makes_no_progress_or_answers_nonsense_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], misbehaviour: str, message: str
) -> None:
    with HistoryServer(SPY_2011, keys=KEYS, page_size=3_000) as server:
        server.misbehave = misbehaviour
        assert download(server.url, tmp_path / "bars") == 2
        assert server.requests <= 5, "a bounded number of requests, not a loop"
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1
    assert not any((tmp_path / "bars").glob("*.parquet")), "no month is marked complete"
