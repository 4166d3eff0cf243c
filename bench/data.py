"""Benchmark: ``qterm data download`` and reading what it writes.

- download: the whole ``qterm data download`` command (in process: paging, parsing, checking,
  writing Parquet) against the loopback ``HistoryServer`` serving real minute bars in Alpaca's
  format, pages of 10,000 (Alpaca's most) -- rows/s; the server's JSON encoding shares the two cores,
  so this is a floor for the client, not a network figure;
- load: ``load_bars`` of the same bars as CSV files (the columnar fast path) and as Parquet files
  (``--data`` reads both) -- rows/s; beside it, the inner loop's peer: pyarrow reading the Parquet
  files into a table (no ``Bar`` objects, no checks).

Data: the team's ``shared/data/intraday_1min`` when present (read, never shipped), else the repo's
sample SPY. Each figure is the median of ``--repeat`` runs (range shown). Prints a table, then one
JSON line with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from quantterminal.adapters.market_data.csv_bars import SAMPLE_ROOT, load_bars
from quantterminal.adapters.market_data.parquet_bars import write_parquet_bars
from quantterminal.adapters.replay.history_server import HistoryServer
from quantterminal.cli.main import main

LABELS = {
    "csv": "load_bars, CSV (columnar)",
    "parquet": "load_bars, Parquet",
    "pyarrow table": "peer: pyarrow read_table",
}
TEAM_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "intraday_1min"


def source() -> Path:
    return TEAM_DATA if TEAM_DATA.is_dir() else SAMPLE_ROOT / "spy_2011"


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def span(figures: dict[str, float]) -> str:
    return f"{figures['min']:,.0f}..{figures['max']:,.0f}"


def bench_download(repeat: int) -> dict[str, Any]:
    bars = load_bars(source())
    # the largest symbol whose files cover contiguous months (no long stretch of empty months)
    spans = {s: (bars[s][-1].timestamp - bars[s][0].timestamp).days for s in bars}
    contiguous = [s for s in bars if spans[s] <= 200] or list(bars)
    symbol = max(contiguous, key=lambda s: len(bars[s]))
    series = bars[symbol]
    first, last = series[0].timestamp.date(), series[-1].timestamp.date()
    os.environ.update({"APCA_API_KEY_ID": "bench", "APCA_API_SECRET_KEY": "bench"})
    rates, requests = [], 0
    with HistoryServer(series, keys=("bench", "bench")) as history:
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as out:
                before = history.requests
                started = time.perf_counter()
                window = ["--start", str(first), "--end", str(last)]
                code = main(["data", "download", "--symbols", symbol, *window, "--url", history.url, "--out", out])
                elapsed = time.perf_counter() - started
                assert code == 0
                assert sum(len(b) for b in load_bars(Path(out)).values()) == len(series)
                requests = history.requests - before
                rates.append(len(series) / elapsed)
    return {"symbol": symbol, "rows": len(series), "requests": requests, "rows_per_s": spread(rates)}


def bench_load(repeat: int) -> dict[str, Any]:
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    csv_folder = source()
    bars = load_bars(csv_folder)
    rows = sum(len(b) for b in bars.values())
    with tempfile.TemporaryDirectory() as folder:
        parquet = Path(folder)
        for csv in sorted(csv_folder.glob("*.csv")):
            symbol = csv.name.split("_", 1)[0]
            write_parquet_bars(parquet / csv.with_suffix(".parquet").name, load_bars(csv)[symbol], {})
        timings: dict[str, list[float]] = {"csv": [], "parquet": [], "pyarrow table": []}
        for _ in range(repeat):
            for name, load in (
                ("csv", lambda: load_bars(csv_folder)),
                ("parquet", lambda: load_bars(parquet)),
                ("pyarrow table", lambda: [pq.read_table(p) for p in sorted(parquet.glob("*.parquet"))]),
            ):
                started = time.perf_counter()
                load()
                timings[name].append(rows / (time.perf_counter() - started))
        sizes = {
            "csv_mb": sum(p.stat().st_size for p in csv_folder.glob("*.csv")) / 1e6,
            "parquet_mb": sum(p.stat().st_size for p in parquet.glob("*.parquet")) / 1e6,
        }
    return {"rows": rows, **sizes, "rows_per_s": {k: spread(v) for k, v in timings.items()}}


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    download = bench_download(args.repeat)
    load = bench_load(args.repeat)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"data: {source()} ({load['rows']:,} rows; CSV {load['csv_mb']:.1f} MB, Parquet {load['parquet_mb']:.1f} MB)")
    print(f"{'measure':<44}{'median':>12}{'range':>26}")
    d = download["rows_per_s"]
    line = f"qterm data download ({download['rows']:,} rows, {download['requests']} requests)"
    print(f"{line:<44}{d['median']:>12,.0f}{span(d):>26}")
    for name, figures in load["rows_per_s"].items():
        label = LABELS[name] + " rows/s"
        print(f"{label:<44}{figures['median']:>12,.0f}{span(figures):>26}")
    print(json.dumps({"download": download, "load": load, "peak_rss_mb": round(peak, 1), "repeat": args.repeat}))


if __name__ == "__main__":
    main_bench()
