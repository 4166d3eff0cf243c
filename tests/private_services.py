"""PostgreSQL and Redis servers of a test's own, on free loopback ports, that the test stops and
starts (the shared servers on 5432/6379 must never be stopped: other tests use them).

PostgreSQL runs from Debian's binaries as the ``postgres`` user (initdb refuses root), with trust
authentication on loopback; its data survives a stop. Redis keeps an append-only file synced on
every write, so a restart comes back with everything it had, as a blip of a managed Redis does.
Every wait is on a condition (the server answering), never a fixed sleep.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(condition: object, what: str, limit: float = 120.0) -> None:
    """Poll ``condition`` until it holds; ``limit`` only guards against a hang (a failure, not a timing)."""
    deadline = time.monotonic() + limit
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def _as_postgres(*command: str) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True, timeout=120)


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own (database ``ledger``)."""

    def __init__(self) -> None:
        if not (PG_BIN / "initdb").exists() or shutil.which("runuser") is None:
            pytest.fail("this test needs Debian's PostgreSQL 15 binaries and runuser (the CI machine has both)")
        self.data = Path(f"/tmp/qt-pg-{uuid.uuid4().hex[:8]}")
        self.data.mkdir()
        shutil.chown(self.data, "postgres", "postgres")
        self.port = free_port()
        _as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust")
        self.start()
        _as_postgres(str(PG_BIN / "psql"), "-h", str(self.data), "-p", str(self.port), "-c", "CREATE DATABASE ledger")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/ledger"

    def start(self) -> None:
        _as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-l", str(self.data / "log"),
            "-o", f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1", "start",
        )  # fmt: skip

    def stop(self) -> None:
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def close(self) -> None:
        stop = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]
        subprocess.run(["runuser", "-u", "postgres", "--", *stop], check=False, capture_output=True, timeout=60)
        shutil.rmtree(self.data, ignore_errors=True)


class PrivateRedis:
    """A Redis server of the test's own, persisting every write (append-only file, always synced)."""

    def __init__(self) -> None:
        if shutil.which("redis-server") is None:
            pytest.fail("this test needs redis-server (Debian's redis package; the CI machine has it)")
        self.dir = Path(f"/tmp/qt-redis-{uuid.uuid4().hex[:8]}")
        self.dir.mkdir()
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir)]
        command += ["--save", "", "--appendonly", "yes", "--appendfsync", "always"]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: answers(self.port), f"redis-server on {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()  # a clean shutdown: the append-only file is complete
            self.process.wait(60)
            self.process = None
        wait_until(lambda: not answers(self.port), f"redis-server on {self.port} to stop")

    def close(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(60)
        shutil.rmtree(self.dir, ignore_errors=True)
