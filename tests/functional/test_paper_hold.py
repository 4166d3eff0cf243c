"""``qterm paper --hold`` stops on Ctrl-C while 50 clients keep its API busy, and never prints the
API key. (It once ignored SIGINT for over 30 s under that load.) Half the clients poll the API, half
hold the dashboard's event stream open."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

KEY = "hold-test-key"
CLIENTS = 50


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hammer(port: int, stop: threading.Event, answered: list[int]) -> None:
    """One API client asking as fast as it is answered."""
    while not stop.is_set():
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            while not stop.is_set():
                conn.request("GET", "/v1/positions", headers={"x-api-key": KEY})
                conn.getresponse().read()
                answered.append(1)
        except OSError:
            time.sleep(0.05)


def dashboard(port: int, stop: threading.Event, answered: list[int]) -> None:
    """One open dashboard: a token, then the event stream read for as long as it lasts."""
    while not stop.is_set():
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("POST", "/v1/events/token", body=b"{}", headers={"x-api-key": KEY})
            token = json.loads(conn.getresponse().read())["token"]
            conn.request("GET", f"/v1/events?token={token}")
            stream = conn.getresponse()
            while not stop.is_set() and stream.readline():
                answered.append(1)
        except (OSError, ValueError, http.client.HTTPException):
            time.sleep(0.05)


@pytest.mark.slow
def test_ctrl_c_stops_a_held_run_within_seconds_under_50_clients(tmp_path: Path) -> None:
    port = free_port()
    command = [
        sys.executable, "-m", "quantterminal.cli.main", "paper", "--days", "1", "--symbols", "SPY", "--hold",
        "--port", str(port), "--api-cache-ms", "0", "--database", f"sqlite:///{tmp_path}/ledger.sqlite3",
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        env={**os.environ, "QT_API_KEY": KEY, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:  # the run trades, summarises, then holds
        lines.append(line)
        if "holding the API and dashboard open" in line:
            break
    else:
        pytest.fail("the run did not reach --hold: " + "".join(lines))
    stop, answered = threading.Event(), []
    clients = [
        threading.Thread(target=hammer if i % 2 else dashboard, args=(port, stop, answered), daemon=True)
        for i in range(CLIENTS)
    ]
    for client in clients:
        client.start()
    time.sleep(2)
    assert answered, "the clients reached the API"
    process.send_signal(signal.SIGINT)
    try:
        rest, _ = process.communicate(timeout=15)
    finally:
        stop.set()
        if process.poll() is None:
            process.kill()
    output = "".join(lines) + rest
    assert process.returncode == 0, output
    assert "paper: stopped" in output
    assert "Paper run --" in output
    assert KEY not in output, "the API key is never printed"
    assert "API key: $QT_API_KEY" in output
    assert "sign in as operator with the API key" in output
