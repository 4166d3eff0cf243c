"""``qterm paper`` end to end: replay server -> websocket feed -> bus -> the desk -> simulated broker
-> state store -> ledger, then the divergence report. On the embedded parts and on the real
PostgreSQL and Redis (the same orders and fills either way), and a restart that resumes."""

from __future__ import annotations

import re
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from quantterminal.cli.main import main
from quantterminal.wiring.factories import open_ledger
from tests.services import (
    POSTGRES_URL,
    REDIS_URL,
    check_postgres,
    check_redis,
    delete_redis_keys,
    drop_schema,
    new_schema,
    require,
)

ONE_DAY = ["paper", "--days", "1", "--no-api", "--health-every", "60"]


def orders_and_fills(url: str) -> tuple[list[str], list[tuple[str, str, int, str]]]:
    ledger = open_ledger(url)
    try:
        orders = ledger.orders_on(date(2013, 10, 4))
        fills = ledger.fills_on(date(2013, 10, 4))
        return [o.client_order_id for o in orders], [(f.order_id, f.symbol, f.qty, str(f.price)) for f in fills]
    finally:
        ledger.close()


@pytest.mark.slow
def test_a_paper_day_trades_and_matches_the_backtests_decisions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/ledger.sqlite3"
    assert main([*ONE_DAY, "--database", url, "--out", str(tmp_path)]) == 0  # 1 would mean a decision differs
    out = capsys.readouterr().out
    assert "Paper run -- 1,169 bars" in out
    # the rate is over the busy span (first bar taken to last decided), not the idle wait that ends a replay
    busy = re.search(r"1,169 bars in [\d.]+ s \(([\d,]+) bars/s\)", " ".join(out.split()))
    assert busy is not None
    assert int(busy.group(1).replace(",", "")) > 0
    assert "no decision differs from the backtest" in out
    # orders matched id for id, and nothing to explain: the run traded what was backtested
    assert "orders and fills: matched by client order id" in out
    explained = out[out.index("P&L: run minus backtest") :]
    for name in ("momentum", "mean_reversion", "volatility_breakout"):
        row = next(line for line in explained.splitlines() if name[:12] in line)
        cells = [c.strip() for c in row.split("│") if c.strip()]
        assert cells[1] == cells[2], f"{name}: backtest and run P&L differ: {row}"
        assert all(c in ("0.00", "-0.00") for c in cells[3:]), row
    assert (tmp_path / "divergence.png").read_bytes().startswith(b"\x89PNG")
    orders, fills = orders_and_fills(url)
    assert len(orders) >= 20
    assert {f[0] for f in fills} <= set(orders)
    with sqlite3.connect(tmp_path / "ledger.sqlite3") as db:
        (equity_points,) = db.execute("SELECT count(*) FROM equity_snapshots").fetchone()
    assert equity_points >= 380  # one per minute traded


@pytest.mark.slow
def test_the_same_run_on_postgresql_and_redis_gives_the_same_orders_and_fills(tmp_path: Path) -> None:
    require("PostgreSQL at 127.0.0.1:5432", check_postgres)
    require("Redis at 127.0.0.1:6379", check_redis)
    embedded = f"sqlite:///{tmp_path}/ledger.sqlite3"
    schema = new_schema()
    real = f"{POSTGRES_URL}?schema={schema}"
    delete_redis_keys("qt:*")
    try:
        assert main([*ONE_DAY, "--database", embedded]) == 0
        assert main([*ONE_DAY, "--database", real, "--redis", REDIS_URL]) == 0
        assert orders_and_fills(real) == orders_and_fills(embedded)
    finally:
        drop_schema(schema)
        delete_redis_keys("qt:*")


@pytest.mark.slow
def test_a_restart_reconciles_and_resumes_without_placing_anything_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require("Redis at 127.0.0.1:6379", check_redis)
    url = f"sqlite:///{tmp_path}/ledger.sqlite3"
    delete_redis_keys("qt:*")
    try:
        assert main([*ONE_DAY, "--database", url, "--redis", REDIS_URL]) == 0
        first = orders_and_fills(url)
        capsys.readouterr()
        # The paper account lives in Redis with the rest of the run's state: it is restored, and
        # reconciliation finds the broker and the books agreeing -- nothing to adopt.
        assert main([*ONE_DAY, "--database", url, "--redis", REDIS_URL]) == 0
        out = capsys.readouterr().out
        assert "paper account 'paper' restored from the state store" in out
        assert "drift(s)" not in out
        assert orders_and_fills(url)[0] == first[0], "every bar was already decided: no new order"
    finally:
        delete_redis_keys("qt:*")


def test_bad_arguments_are_one_line_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["paper", "--strategy", "nonesuch", "--no-api"]) == 2
    assert "--strategy: unknown strategy 'nonesuch': not built in" in capsys.readouterr().err
    assert main(["paper", "--replay", "/nonexistent/bars.csv", "--no-api"]) == 2
    assert "qterm paper: error:" in capsys.readouterr().err


@pytest.mark.slow
def test_a_chaotic_feed_changes_no_decision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Drops, garbage frames and silences in the replay: the feed backfills the gaps and the
    strategies still make exactly the backtest's decisions (backfilled bars are consumed, not traded)."""
    url = f"sqlite:///{tmp_path}/ledger.sqlite3"
    chaos = ["--drop-every", "400", "--garbage-every", "250", "--silence-every", "900", "--silence-seconds", "6"]
    assert main([*ONE_DAY, "--database", url, "--silence", "2", *chaos]) == 0
    captured = capsys.readouterr()
    assert "no decision differs from the backtest" in captured.out
    assert "0 malformed; outages: no outage" in " ".join(captured.out.split())  # (the console wraps the line)
    assert "reconnecting" in caplog.text, "the chaos happened"
    assert "skipping malformed market data" in caplog.text
