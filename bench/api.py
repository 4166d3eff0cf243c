"""GET /v1/positions latency on loopback with 50 concurrent clients.

The server is a real ``qterm paper`` run (one replayed SPY/IBM/BAC session, simulated broker,
SQLite ledger, in-process state) left up with ``--hold``. The load is ``wrk`` (Debian's package:
a C client that leaves the second core to the server) when installed, else Python client
processes; 50 persistent HTTP/1.1 connections, each issuing requests back to back. Measured twice:
with the local server's 100 ms read cache (the default) and with it off. Target: p99 <= 20 ms.

Prints a table, then one JSON line of the figures.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from quantterminal.core.accounting.metrics import percentile

CLIENTS = 50
PROCESSES = 5  # client processes, CLIENTS // PROCESSES connections each
SECONDS = 8.0
WARMUP = 1.0
KEY = "bench-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(folder: Path, cache_ms: float) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    command = [
        sys.executable, "-m", "quantterminal.cli.main", "paper", "--days", "1", "--port", str(port), "--hold",
        "--database", f"sqlite:///{folder}/ledger.sqlite3", "--api-cache-ms", str(cache_ms),
    ]  # fmt: skip
    log = (folder / "paper.log").open("w")
    process = subprocess.Popen(command, env={**os.environ, "QT_API_KEY": KEY}, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait for the run to finish and hold (positions are then final)
        if "holding the API" in (folder / "paper.log").read_text():
            return process, port
        if process.poll() is not None:
            raise SystemExit("the paper run ended: " + (folder / "paper.log").read_text()[-2000:])
        time.sleep(0.2)
    process.kill()
    raise SystemExit("the paper run did not reach --hold in time")


def client_process(port: int, connections: int, stop_at: float, warm_until: float, out: multiprocessing.Queue) -> None:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine: list[float] = []
        while time.time() < stop_at:
            started = time.perf_counter()
            try:
                conn.request("GET", "/v1/positions", headers={"x-api-key": KEY})
                response = conn.getresponse()
                body = response.read()
                ok = response.status == 200 and body.startswith(b"{")
            except OSError:
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            elapsed = (time.perf_counter() - started) * 1000
            if time.time() >= warm_until:
                if ok:
                    mine.append(elapsed)
                else:
                    with lock:
                        errors[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put((latencies, errors[0]))


WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk_load(port: int) -> dict[str, float]:
    """Latency percentiles and throughput measured by wrk."""
    out = subprocess.run(
        ["wrk", "-c", str(CLIENTS), "-t", "2", "-d", f"{SECONDS:.0f}s", "--latency", "-H", f"x-api-key: {KEY}",
         f"http://127.0.0.1:{port}/v1/positions"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    figures: dict[str, float] = {"errors": 0.0}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("50%", "90%", "99%"):
            value = parts[1].rstrip("usm")
            unit = parts[1][len(value) :]
            figures[f"p{parts[0][:-1]}_ms"] = round(float(value) * WRK_UNITS[unit], 2)
        elif line.strip().startswith("Requests/sec:"):
            figures["requests_per_s"] = float(parts[1])
        elif "Non-2xx" in line or "Socket errors" in line:
            figures["errors"] += sum(int(p.strip(",")) for p in parts if p.strip(",").isdigit())
    figures["requests"] = round(figures["requests_per_s"] * SECONDS)
    return figures


def python_load(port: int) -> dict[str, float]:
    """The same load from Python client processes (when wrk is not installed)."""
    start = time.time() + 0.5
    warm_until, stop_at = start + WARMUP, start + WARMUP + SECONDS
    queue: multiprocessing.Queue = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(target=client_process, args=(port, CLIENTS // PROCESSES, stop_at, warm_until, queue))
        for _ in range(PROCESSES)
    ]
    for w in workers:
        w.start()
    results = [queue.get() for _ in workers]
    for w in workers:
        w.join()
    latencies = sorted(x for lat, _ in results for x in lat)
    return {
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / SECONDS, 1),
        "p50_ms": round(percentile(latencies, 0.50), 2),
        "p90_ms": round(percentile(latencies, 0.90), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "errors": sum(e for _, e in results),
    }


def use_wrk() -> bool:
    """wrk when installed, unless ``QT_BENCH_CLIENT=python`` asks for the Python clients."""
    return shutil.which("wrk") is not None and os.environ.get("QT_BENCH_CLIENT") != "python"


def measure(cache_ms: float) -> tuple[dict[str, float], int]:
    with tempfile.TemporaryDirectory() as folder:
        process, port = start_server(Path(folder), cache_ms)
        try:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/positions", headers={"x-api-key": KEY})
            positions = len(json.load(urllib.request.urlopen(request, timeout=5))["positions"])
            return (wrk_load(port) if use_wrk() else python_load(port)), positions
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)


def main() -> None:
    client = "wrk" if use_wrk() else f"python ({PROCESSES} processes)"
    rows = {}
    for label, cache_ms in (("cache 100 ms", 100.0), ("no cache", 0.0)):
        rows[label], positions = measure(cache_ms)
    print(f"GET /v1/positions, {CLIENTS} concurrent connections for {SECONDS:.0f} s, client {client}, "
          f"{positions} open positions")  # fmt: skip
    print(f"{'server':<14}{'requests':>10} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for label, f in rows.items():
        print(
            f"{label:<14}{f['requests']:>10,.0f} {f['requests_per_s']:>9,.0f} {f['p50_ms']:>8.2f} "
            f"{f['p90_ms']:>8.2f} {f['p99_ms']:>8.2f} {f['errors']:>7.0f}"
        )
    cached, uncached = rows["cache 100 ms"], rows["no cache"]
    print(
        json.dumps(
            {
                "bench": "api",
                "route": "GET /v1/positions",
                "clients": CLIENTS,
                "load": client,
                "requests_per_s": cached["requests_per_s"],
                "p50_ms": cached["p50_ms"],
                "p99_ms": cached["p99_ms"],
                "uncached_requests_per_s": uncached["requests_per_s"],
                "uncached_p50_ms": uncached["p50_ms"],
                "uncached_p99_ms": uncached["p99_ms"],
                "errors": cached["errors"] + uncached["errors"],
                "target_p99_ms": 20,
            }
        )
    )


if __name__ == "__main__":
    main()
