"""``qterm paper`` killed with SIGKILL while it trades, restarted, killed again, then run to the
end, on the real PostgreSQL and Redis: nothing lost, nothing counted twice.

The kill points are spread over the trading (timed from the moment the run announces itself), so
they land between any two writes: a bar decided but not saved, an order recorded but not sent, a
fill at the broker not yet booked. After the final run the broker (the paper account kept in
Redis), the state store and the ledger must agree exactly (``tests.paper_books``).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from quantterminal.wiring.factories import open_ledger, open_state_store
from tests.paper_books import check_books
from tests.services import POSTGRES_URL, REDIS_URL, check_postgres, check_redis, drop_schema, new_schema, require

KILLS = 3
QTERM = [sys.executable, "-m", "quantterminal.cli.main"]


def paper(database: str, redis_url: str) -> subprocess.Popen[str]:
    args = ["paper", "--days", "1", "--no-api", "--health-every", "60", "--database", database]
    return subprocess.Popen(
        [*QTERM, *args, "--redis", redis_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def kill_while_trading(database: str, redis_url: str, after: float) -> str:
    """Start a run, wait until it trades, let it run ``after`` seconds, SIGKILL it."""
    process = paper(database, redis_url)
    assert process.stdout is not None
    seen = []
    deadline = time.monotonic() + 60
    for line in process.stdout:  # the run says "paper: ..." once the feed and the desk are up
        seen.append(line)
        if line.startswith("paper:") or time.monotonic() > deadline:
            break
    time.sleep(after)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    return "".join(seen)


@pytest.mark.slow
def test_sigkills_while_trading_lose_no_fill_and_place_no_order_twice(tmp_path: Path) -> None:
    require("PostgreSQL at 127.0.0.1:5432", check_postgres)
    require("Redis at 127.0.0.1:6379", check_redis)
    schema = new_schema()
    database = f"{POSTGRES_URL}?schema={schema}"
    redis_url = REDIS_URL.rsplit("/", 1)[0] + "/14"  # a database of its own: the run uses the "qt" prefix
    store = open_state_store(redis_url)
    store.client.flushdb()
    rng = random.Random(12)
    try:
        for _ in range(KILLS):
            kill_while_trading(database, redis_url, after=rng.uniform(0.5, 5.0))
        final = paper(database, redis_url)
        out, _ = final.communicate(timeout=300)
        assert final.returncode in (0, 1), out  # 1: a decision differs from the backtest (restarts may do that)
        assert "outages: no outage" in out, out
        ledger = open_ledger(database)
        try:
            books = check_books(ledger, store, "paper")
        finally:
            ledger.close()
        assert books.problems == []
        assert books.fills_in_ledger == books.fill_events > 20
    finally:
        store.client.flushdb()
        store.close()
        drop_schema(schema)
