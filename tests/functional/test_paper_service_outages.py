"""``qterm paper`` through real outages: its PostgreSQL stopped and started, then its Redis, then
both, while it trades. The run stays up, waits for its services, loses no update, keeps trading
every symbol, and ends with broker = state store = ledger and the same orders and fills as a run
that saw no outage; its summary says what the outages delayed.

Private servers (``tests.private_services``) because the test stops them; every wait is on what
the run prints, never on a clock (the replay is paced so the outages land while it trades)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from quantterminal.wiring.factories import open_ledger, open_state_store
from tests.paper_books import EVER, check_books
from tests.private_services import PrivatePostgres, PrivateRedis, wait_until

QTERM = [sys.executable, "-m", "quantterminal.cli.main"]
OUTAGE_SECONDS = 10


class Run:
    """A ``qterm paper`` process whose output is collected as it comes."""

    def __init__(self, database: str, redis_url: str, speed: float, budget: float = 300) -> None:
        args = ["paper", "--days", "2", "--speed", str(speed), "--no-api", "--outage-budget", str(budget)]
        args += ["--health-every", "1"]
        self.process = subprocess.Popen(
            [*QTERM, *args, "--database", database, "--redis", redis_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def count(self, text: str) -> int:
        return sum(text in line for line in list(self.lines))

    def finish(self) -> str:
        self.process.wait(900)
        self._reader.join(30)
        return "".join(self.lines)


@pytest.fixture
def services() -> Iterator[tuple[PrivatePostgres, PrivateRedis]]:
    pg, redis = PrivatePostgres(), PrivateRedis()
    try:
        yield pg, redis
    finally:
        pg.close()
        redis.close()


def trades(database: str) -> tuple[list[str], list[tuple[str, int, str]]]:
    ledger = open_ledger(database, create=False)
    try:
        orders = sorted(o.client_order_id for o in ledger.orders_between(*EVER))
        fills = sorted((f.order_id, f.qty, str(f.price)) for f in ledger.fills_between(*EVER))
    finally:
        ledger.close()
    return orders, fills


@pytest.mark.slow
def test_a_paper_run_rides_out_outages_of_postgres_redis_and_both(
    services: tuple[PrivatePostgres, PrivateRedis],
) -> None:
    pg, redis = services
    # A calm run first, on databases of its own: what the run must come to despite the outages
    calm_db, calm_redis = pg.url.replace("/ledger", "/postgres"), redis.url.replace("/0", "/1")
    calm = Run(calm_db, calm_redis, speed=0)  # flat out: the replay's pace changes no decision
    calm_out = calm.finish()
    assert calm.process.returncode in (0, 1), calm_out
    expected = trades(calm_db)

    # Paced (780 replayed minutes at 10 a second) so that three outages of 10 s land while it trades
    run = Run(pg.url, redis.url, speed=10)
    wait_until(lambda: run.count("paper:") > 0 or run.process.poll() is not None, "the run to start trading")
    for n, (down, up) in enumerate(
        [
            ([pg.stop], [pg.start]),
            ([redis.stop], [redis.start]),
            ([pg.stop, redis.stop], [redis.start, pg.start]),
        ],
        start=1,
    ):
        for stop in down:
            stop()
        wait_until(
            lambda n=n: run.count("services unavailable") >= n or run.process.poll() is not None,
            f"the run to notice outage {n}",
        )
        assert run.process.poll() is None, "".join(run.lines)
        # the health line says so while it lasts (it prints every second)
        noticed = len(run.lines)
        wait_until(
            lambda noticed=noticed: (
                any("outages: services down for" in line for line in run.lines[noticed:])
                or run.process.poll() is not None
            ),
            f"the health line to show outage {n}",
        )
        time.sleep(OUTAGE_SECONDS)  # how long the service stays away (what the run does meanwhile is asserted)
        for start in up:
            start()
        wait_until(
            lambda n=n: run.count("services back") >= n or run.process.poll() is not None,
            f"the run to resume after outage {n}",
        )
    out = run.finish()
    assert run.process.returncode in (0, 1), out
    flat = " ".join(out[out.index("Paper run --") :].split())  # the summary (the console wraps long lines)
    summary = re.search(r"outages: (\d+) outage\(s\), (\d+) piece\(s\) of work delayed \(longest ([\d.]+) s", flat)
    assert summary is not None, out
    assert int(summary[1]) >= 3
    assert int(summary[2]) >= 3
    assert float(summary[3]) >= OUTAGE_SECONDS
    assert "nothing skipped" in flat
    assert trades(pg.url) == expected, "the same orders and fills as the calm run"
    ledger, store = open_ledger(pg.url, create=False), open_state_store(redis.url)
    try:
        books = check_books(ledger, store, "paper")
    finally:
        ledger.close()
        store.close()
    assert books.problems == []
    assert books.fills_in_ledger == books.fill_events > 20


@pytest.mark.slow
def test_a_state_store_that_never_comes_back_stops_the_run_with_one_line_and_status_3(
    services: tuple[PrivatePostgres, PrivateRedis],
) -> None:
    pg, redis = services
    run = Run(pg.url, redis.url, speed=10, budget=2)
    wait_until(lambda: run.count("paper:") > 0 or run.process.poll() is not None, "the run to start trading")
    redis.stop()  # and it stays away
    out = run.finish()
    assert run.process.returncode == 3, out
    stopped = [line for line in out.splitlines() if line.startswith("qterm paper: error: trading stopped after")]
    assert len(stopped) == 1, out
    assert "budget 2 s" in stopped[0]
    assert "Paper run --" not in out, "a partial run is not summarised as a run"
    assert "no decision differs" not in out
