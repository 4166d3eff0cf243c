"""The CSV loader: real shipped files load; every kind of bad input names file, line and problem,
and nothing is half-loaded -- on both paths: line by line, and column by column for large files
(every test here runs twice, the second time with every file taken as large)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from quantterminal.adapters.market_data import csv_bars
from quantterminal.adapters.market_data.csv_bars import load_bars, read_bars_file, resolve_source, sample_sets
from quantterminal.adapters.market_data.csv_columns import read_columns
from quantterminal.core.market_data.calendar import is_market_open
from quantterminal.errors import DataError

HEADER = "timestamp,open,high,low,close,volume\n"
GOOD = "2024-01-02T09:30:00-05:00,10.00,10.50,9.90,10.20,100\n2024-01-02T09:31:00-05:00,10.20,10.30,10.10,10.25,50\n"


@pytest.fixture(autouse=True, params=["line by line", "column by column"])
def loader_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "column by column":
        monkeypatch.setattr(csv_bars, "FAST_PATH_BYTES", 0)
    return str(request.param)


def test_both_paths_give_the_same_bars_for_every_shipped_file(sample_root: Path) -> None:
    columns = ["timestamp", "open", "high", "low", "close", "volume"]
    for path in sorted(sample_root.rglob("*.csv")):
        symbol = csv_bars.symbol_from_path(path)
        fast = read_columns(path, symbol, columns)
        assert fast is not None, path
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(csv_bars, "FAST_PATH_BYTES", 10**15)
            assert fast == read_bars_file(path, symbol), path


def test_without_pyarrow_pandas_reads_the_same_bars(sample_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pyarrow is the ``data`` extra: an install without it reads large files with pandas."""
    from quantterminal.adapters.market_data import csv_columns

    columns = ["timestamp", "open", "high", "low", "close", "volume"]
    path = sample_root / "spy_2011" / "SPY_1min_2011-03_ext.csv"
    by_pyarrow = read_columns(path, "SPY", columns)
    monkeypatch.setattr(csv_columns, "_with_pyarrow", lambda *_: False)
    assert by_pyarrow == read_columns(path, "SPY", columns) == read_bars_file(path, "SPY")


def write(tmp_path: Path, name: str, body: str, header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text(header + body, encoding="utf-8")
    return path


def test_shipped_sets_load_with_the_documented_row_counts(sample_root: Path) -> None:
    assert sample_sets() == ["lean_2013", "spy_2011"]
    spy = load_bars(sample_root / "spy_2011")["SPY"]
    assert len(spy) == 14180 + 17577
    assert spy[0].timestamp == datetime(2011, 1, 3, 9, 0, tzinfo=UTC)  # 04:00 New York
    assert (spy[0].open, spy[0].close, spy[0].volume) == (126.35, 126.39, 1579)
    lean = load_bars(sample_root / "lean_2013")
    assert {s: len(b) for s, b in lean.items()} == {"SPY": 4839, "IBM": 2566, "BAC": 3466}
    assert all(b.timestamp.tzinfo is UTC for b in spy[:10])


def test_regular_hours_filter_keeps_0930_to_1600_new_york_across_dst(sample_root: Path) -> None:
    spy = load_bars(sample_root / "spy_2011", regular_hours_only=True)["SPY"]
    assert len(spy) == 43 * 390  # every session in both files is complete
    assert all(is_market_open(b.timestamp) for b in spy)
    march_14 = [b for b in spy if b.timestamp.date() == date(2011, 3, 14)]
    assert march_14[0].timestamp == datetime(2011, 3, 14, 13, 30, tzinfo=UTC)  # EDT: 09:30 = 13:30Z
    assert spy[0].timestamp == datetime(2011, 1, 3, 14, 30, tzinfo=UTC)  # EST: 09:30 = 14:30Z


def test_symbol_from_flag_or_file_name_and_symbol_selection(tmp_path: Path) -> None:
    write(tmp_path, "aapl_1min.csv", GOOD)
    write(tmp_path, "MSFT.csv", GOOD)
    assert sorted(load_bars(tmp_path)) == ["AAPL", "MSFT"]
    assert list(load_bars(tmp_path, symbols=["msft"])) == ["MSFT"]
    assert list(load_bars(tmp_path / "aapl_1min.csv", symbol="xyz")) == ["XYZ"]
    with pytest.raises(DataError, match="no data for symbol"):
        load_bars(tmp_path, symbols=["TSLA"])


def test_files_of_one_symbol_are_joined_and_must_not_overlap(tmp_path: Path) -> None:
    write(tmp_path, "SPY_b.csv", "2024-01-03T09:30:00-05:00,10,10,10,10,1\n")
    write(tmp_path, "SPY_a.csv", GOOD)
    bars = load_bars(tmp_path)["SPY"]
    assert [b.timestamp.day for b in bars] == [2, 2, 3]
    write(tmp_path, "SPY_c.csv", "2024-01-02T09:31:00-05:00,10,10,10,10,1\n")
    with pytest.raises(DataError, match=r"SPY_c\.csv: overlaps .*SPY_a\.csv"):
        load_bars(tmp_path)


@pytest.mark.parametrize(
    ("body", "line", "problem"),
    [
        ("2024-01-02T09:30:00-05:00,nan,10.5,9.9,10.2,100\n", 2, "open is nan; prices must be finite"),
        ("2024-01-02T09:30:00-05:00,10,10.5,9.9,inf,100\n", 2, "close is inf; prices must be finite"),
        ("2024-01-02T09:30:00-05:00,0,10.5,0,10.2,100\n", 2, "open 0.0 is not positive"),
        ("2024-01-02T09:30:00-05:00,-1,10.5,9.9,10.2,100\n", 2, "open -1.0 is not positive"),
        ("2024-01-02T09:30:00-05:00,10,10.5,9.9,10.2,-5\n", 2, "volume -5 is negative"),
        ("2024-01-02T09:30:00-05:00,10,10.5,9.9,10.2,1.5\n", 2, "not a whole number"),
        ("2024-01-02T09:30:00-05:00,10,9.0,9.9,10.2,100\n", 2, "high 9.0 is below low 9.9"),
        ("2024-01-02T09:30:00-05:00,10,10.5,9.9,11,100\n", 2, "open/close outside"),
        ("2024-01-02T09:30:00-05:00,ten,10.5,9.9,10.2,100\n", 2, "open 'ten' is not a number"),
        ("yesterday,10,10.5,9.9,10.2,100\n", 2, "timestamp 'yesterday' is not ISO-8601"),
        ("2024-01-02T09:30:00,10,10.5,9.9,10.2,100\n", 2, "has no UTC offset"),
        (GOOD + "2024-01-02T09:31:00-05:00,10,10,10,10,1\n", 4, "duplicate timestamp"),
        (GOOD + "2024-01-02T09:29:00-05:00,10,10,10,10,1\n", 4, "earlier than the line before"),
        (GOOD + "2024-01-02T09:32:00-05:00,10,10,10\n", 4, "expected 6 fields, found 4"),
    ],
)
def test_bad_rows_name_file_line_and_problem(tmp_path: Path, body: str, line: int, problem: str) -> None:
    path = write(tmp_path, "SPY.csv", body)
    with pytest.raises(DataError) as excinfo:
        load_bars(path)
    message = str(excinfo.value)
    assert message.startswith(f"{path}:{line}: ")
    assert problem in message


def test_missing_columns_and_empty_files(tmp_path: Path) -> None:
    path = write(tmp_path, "SPY.csv", "2024-01-02T09:30:00-05:00,10,10,10\n", header="timestamp,open,high,low\n")
    with pytest.raises(DataError, match=r"SPY.csv:1: missing column\(s\) close, volume"):
        read_bars_file(path)
    empty = tmp_path / "QQQ.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="file is empty"):
        read_bars_file(empty)


def test_column_order_and_extra_columns_are_fine(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "SPY.csv",
        "100,10.2,2024-01-02T09:30:00-05:00,9.9,10.5,10,x\n",
        header="volume,close,timestamp,low,high,open,note\n",
    )
    (b,) = read_bars_file(path)
    assert (b.open, b.high, b.low, b.close, b.volume) == (10.0, 10.5, 9.9, 10.2, 100)


def test_one_bad_file_loads_nothing(tmp_path: Path) -> None:
    write(tmp_path, "AAA.csv", GOOD)
    write(tmp_path, "ZZZ.csv", GOOD + "2024-01-02T09:32:00-05:00,1,1,1,-1,1\n")
    with pytest.raises(DataError, match=r"ZZZ\.csv:4"):
        load_bars(tmp_path)


def test_sources_that_do_not_exist(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file or folder"):
        load_bars(tmp_path / "missing.csv")
    with pytest.raises(DataError, match=r"no \.csv or \.parquet files"):
        load_bars(tmp_path)
    with pytest.raises(DataError, match="unknown sample data set 'nope'"):
        resolve_source("sample:nope")
    assert resolve_source("sample:spy_2011").is_dir()
