"""API latency on loopback with 50 concurrent clients: GET /v1/positions, and the dashboard's
seven routes in turn (positions, pnl, orders, fills, strategies, risk, health).

The server is a real ``qterm paper`` run (the shipped lean_2013 replay: 7,018 SPY/IBM/BAC bars,
750 orders, simulated broker, SQLite ledger, in-process state), measured left up with ``--hold``
and, for the dashboard, also while it is still trading (a slowed replay). The load is ``wrk``
(Debian's package: a C client that leaves the second core to the server) when installed, else
Python client processes; 50 persistent HTTP/1.1 connections, each issuing requests back to back.
/v1/positions is measured with the local server's 100 ms shared answers (the default) and with
them off. Each row runs ``REPEATS`` times; the table shows the median and the range.
Targets: p99 <= 20 ms for /v1/positions, p99 <= 100 ms for the dashboard's routes.

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
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from quantterminal.core.accounting.metrics import percentile

CLIENTS = 50
REPEATS = 3
ROUTES = ("positions", "pnl", "orders", "fills", "strategies", "risk", "health")  # the dashboard's
LIVE_SPEED = 60  # replay minutes per second while measuring during the run: it trades for ~2 minutes
PROCESSES = 5  # client processes, CLIENTS // PROCESSES connections each
SECONDS = 8.0
WARMUP = 1.0
KEY = "bench-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(folder: Path, cache_ms: float, live: bool) -> tuple[subprocess.Popen[bytes], int]:
    """A paper run holding its API open (``live``: still trading, a slowed replay)."""
    port = free_port()
    command = [
        sys.executable, "-m", "quantterminal.cli.main", "paper", "--port", str(port), "--hold",
        "--database", f"sqlite:///{folder}/ledger.sqlite3", "--api-cache-ms", str(cache_ms),
        "--speed", str(LIVE_SPEED if live else 0),
    ]  # fmt: skip
    log = (folder / "paper.log").open("w")
    process = subprocess.Popen(command, env={**os.environ, "QT_API_KEY": KEY}, stdout=log, stderr=subprocess.STDOUT)
    ready = "dashboard: http" if live else "holding the API"  # live: up and trading; else: done, final
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if ready in (folder / "paper.log").read_text():
            if live:
                time.sleep(5)  # let it book some orders first
            return process, port
        if process.poll() is not None:
            raise SystemExit("the paper run ended: " + (folder / "paper.log").read_text()[-2000:])
        time.sleep(0.2)
    process.kill()
    raise SystemExit("the paper run did not reach --hold in time")


def client_process(
    port: int, paths: list[str], connections: int, stop_at: float, warm_until: float, out: multiprocessing.Queue
) -> None:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine: list[float] = []
        turn = 0
        while time.time() < stop_at:
            started = time.perf_counter()
            turn += 1
            try:
                conn.request("GET", paths[turn % len(paths)], headers={"x-api-key": KEY})
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


WRK_ROTATION = """
local paths = {%s}
local turn = 0
request = function()
  turn = turn + 1
  return wrk.format("GET", paths[(turn %% #paths) + 1], {["x-api-key"] = "%s"})
end
"""


def wrk_load(port: int, paths: list[str]) -> dict[str, float]:
    """Latency percentiles and throughput measured by wrk (a Lua script turns through ``paths``)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_ROTATION % (", ".join(f'"{p}"' for p in paths), KEY))
        script.flush()
        out = subprocess.run(
            ["wrk", "-c", str(CLIENTS), "-t", "2", "-d", f"{SECONDS:.0f}s", "--latency", "-s", script.name,
             f"http://127.0.0.1:{port}/"],
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


def python_load(port: int, paths: list[str]) -> dict[str, float]:
    """The same load from Python client processes (when wrk is not installed)."""
    start = time.time() + 0.5
    warm_until, stop_at = start + WARMUP, start + WARMUP + SECONDS
    queue: multiprocessing.Queue = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(
            target=client_process, args=(port, paths, CLIENTS // PROCESSES, stop_at, warm_until, queue)
        )
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


def measure(cache_ms: float, routes: tuple[str, ...], live: bool) -> tuple[dict[str, float], int]:
    with tempfile.TemporaryDirectory() as folder:
        process, port = start_server(Path(folder), cache_ms, live)
        try:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/positions", headers={"x-api-key": KEY})
            positions = len(json.load(urllib.request.urlopen(request, timeout=5))["positions"])
            paths = [f"/v1/{route}" for route in routes]
            return (wrk_load(port, paths) if use_wrk() else python_load(port, paths)), positions
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)


CASES = {  # label: (cache ms, routes, while trading)
    "positions, 100 ms shared": (100.0, ("positions",), False),
    "positions, no sharing": (0.0, ("positions",), False),
    "dashboard, done": (100.0, ROUTES, False),
    "dashboard, trading": (100.0, ROUTES, True),
}


def main() -> None:
    client = "wrk" if use_wrk() else f"python ({PROCESSES} processes)"
    runs: dict[str, list[dict[str, float]]] = {label: [] for label in CASES}
    for _ in range(REPEATS):
        for label, case in CASES.items():
            runs[label].append(measure(*case)[0])
    rows = {label: {k: statistics.median(r[k] for r in found) for k in found[0]} for label, found in runs.items()}
    spans = {label: (min(r["p99_ms"] for r in found), max(r["p99_ms"] for r in found)) for label, found in runs.items()}
    print(f"{CLIENTS} concurrent connections for {SECONDS:.0f} s, client {client}, median of {REPEATS} "
          f"(p99 range); the shipped lean_2013 paper run")  # fmt: skip
    heads = ("requests", "req/s", "p50 ms", "p90 ms", "p99 ms")
    print(f"{'case':<26}" + " ".join(f"{h:>9}" for h in heads) + f" {'p99 range':>15} {'errors':>7}")
    for label, f in rows.items():
        low, high = spans[label]
        print(
            f"{label:<26}{f['requests']:>9,.0f} {f['requests_per_s']:>9,.0f} {f['p50_ms']:>9.2f} "
            f"{f['p90_ms']:>9.2f} {f['p99_ms']:>9.2f} {f'{low:.1f}-{high:.1f}':>15} {f['errors']:>7.0f}"
        )
    cached, uncached = rows["positions, 100 ms shared"], rows["positions, no sharing"]
    done, trading = rows["dashboard, done"], rows["dashboard, trading"]
    print(
        json.dumps(
            {
                "bench": "api",
                "route": "GET /v1/positions",
                "clients": CLIENTS,
                "load": client,
                "repeats": REPEATS,
                "requests_per_s": cached["requests_per_s"],
                "p50_ms": cached["p50_ms"],
                "p99_ms": cached["p99_ms"],
                "uncached_requests_per_s": uncached["requests_per_s"],
                "uncached_p50_ms": uncached["p50_ms"],
                "uncached_p99_ms": uncached["p99_ms"],
                "dashboard_requests_per_s": done["requests_per_s"],
                "dashboard_p99_ms": done["p99_ms"],
                "dashboard_trading_requests_per_s": trading["requests_per_s"],
                "dashboard_trading_p50_ms": trading["p50_ms"],
                "dashboard_trading_p99_ms": trading["p99_ms"],
                "errors": sum(r["errors"] for r in rows.values()),
                "target_p99_ms": 20,
                "target_dashboard_p99_ms": 100,
            }
        )
    )


if __name__ == "__main__":
    main()
