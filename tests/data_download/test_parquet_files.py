"""Parquet files as ``--data``: the same bars as the CSV they were written from, checked the same
way (a bad row is named), and mixed with CSV files in one folder."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from quantterminal.adapters.market_data.csv_bars import SAMPLE_ROOT, load_bars
from quantterminal.adapters.market_data.parquet_bars import read_parquet_bars, write_parquet_bars
from quantterminal.core.models import Bar
from quantterminal.errors import DataError
from tests.helpers import bars_from_closes

SETS = sorted(p for p in SAMPLE_ROOT.iterdir() if p.is_dir())


@pytest.mark.parametrize("folder", SETS, ids=lambda p: p.name)
def test_every_shipped_file_reads_back_bar_for_bar(folder: Path, tmp_path: Path) -> None:
    for symbol, bars in load_bars(folder).items():
        path = tmp_path / f"{symbol}_1min.parquet"
        write_parquet_bars(path, bars, {"symbol": symbol})
        assert read_parquet_bars(path, symbol) == bars


def test_vwap_and_trade_count_survive_and_unknowns_stay_unknown(tmp_path: Path) -> None:
    plain = bars_from_closes([10.0, 10.5, 11.0])
    bars = [plain[0], Bar("SPY", plain[1].timestamp, 10.5, 10.5, 10.5, 10.5, 100, vwap=10.5, trade_count=7), plain[2]]
    write_parquet_bars(tmp_path / "SPY.parquet", bars, {})
    assert read_parquet_bars(tmp_path / "SPY.parquet", "SPY") == bars


def test_csv_and_parquet_months_join_in_one_folder(tmp_path: Path) -> None:
    january, march = sorted((SAMPLE_ROOT / "spy_2011").glob("*.csv"))
    (tmp_path / january.name).write_bytes(january.read_bytes())
    march_bars = load_bars(march)["SPY"]
    write_parquet_bars(tmp_path / "SPY_1min_2011-03.parquet", march_bars, {})
    assert load_bars(tmp_path) == load_bars(SAMPLE_ROOT / "spy_2011")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda b: Bar(b.symbol, b.timestamp, b.open, b.high, -1.0, b.close, b.volume), "row 3: "),
        (
            lambda b: Bar(b.symbol, b.timestamp - timedelta(minutes=5), b.open, b.high, b.low, b.close, b.volume),
            "row 3: timestamp",
        ),
    ],
)
def test_a_bad_row_is_named(tmp_path: Path, change: object, problem: str) -> None:
    bars = bars_from_closes([10.0, 10.5, 11.0, 11.5])
    bars[2] = change(bars[2])  # type: ignore[operator]
    write_parquet_bars(tmp_path / "SPY.parquet", bars, {})
    with pytest.raises(DataError, match=problem):
        load_bars(tmp_path)


def test_not_parquet_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "SPY.parquet").write_text("timestamp,open\n")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        load_bars(tmp_path)
