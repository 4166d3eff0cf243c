"""One session rule, everywhere: ``qterm backtest --config X`` and ``qterm paper --config X`` on the
same data (LEAN's 2013 minute bars, which hold pre- and post-market bars) place the same orders, get
the same fills and end on the same equity to the cent -- whether the strategies see the regular
session (the default) or one of them asks for extended hours."""

from __future__ import annotations

import csv
import re
import textwrap
from pathlib import Path

import pytest

from quantterminal.cli.main import main
from quantterminal.wiring.factories import open_ledger

CONFIG = """
account = "paper"

[[strategies]]
name = "momentum"
strategy = "momentum"
allocation = 0.30
params = {{ fast = 10, slow = 30 }}
{session}

[[strategies]]
name = "mean_reversion"
strategy = "mean_reversion"
allocation = 0.30

[[strategies]]
name = "volatility_breakout"
strategy = "volatility_breakout"
allocation = 0.30

[data]
symbols = ["SPY", "IBM", "BAC"]
backtest = "sample:lean_2013"
replay = "sample:lean_2013"
"""


def money(text: str, label: str) -> str:
    found = re.search(label + r"[\s│]*\$?([\d,]+\.\d\d)", text)
    assert found, f"no {label!r} in the output"
    return found.group(1)


@pytest.mark.slow
@pytest.mark.parametrize("session", ["", 'session = "extended"'], ids=["regular", "extended"])
def test_backtest_and_paper_of_one_file_trade_alike_to_the_cent(
    session: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "quantterminal.toml"
    config.write_text(textwrap.dedent(CONFIG).format(session=session), encoding="utf-8")
    assert main(["backtest", "--config", str(config), "--end", "2013-10-07", "--out", str(tmp_path / "bt")]) == 0
    backtest_out = capsys.readouterr().out
    url = f"sqlite:///{tmp_path}/ledger.sqlite3"
    paper = ["paper", "--config", str(config), "--days", "2", "--no-api", "--health-every", "60", "--database", url]
    assert main(paper) == 0
    paper_out = capsys.readouterr().out
    assert "no decision differs from the backtest" in paper_out

    with (tmp_path / "bt" / "orders.csv").open() as f:
        placed = sorted(
            (r["client_order_id"], r["side"], r["qty"], r["limit_price"])
            for r in csv.DictReader(f)
            if r["outcome"] != "refused"
        )
    with (tmp_path / "bt" / "fills.csv").open() as f:
        filled = sorted((r["order_id"], r["qty"], r["price"]) for r in csv.DictReader(f))
    ledger = open_ledger(url)
    try:
        from datetime import UTC, datetime

        start, end = datetime(2013, 10, 4, tzinfo=UTC), datetime(2013, 10, 9, tzinfo=UTC)
        orders = sorted(
            (o.client_order_id, o.side.value, str(o.qty), "" if o.limit_price is None else str(o.limit_price))
            for o in ledger.orders_between(start, end)
        )
        fills = sorted((f.order_id, str(f.qty), str(f.price)) for f in ledger.fills_between(start, end))
    finally:
        ledger.close()
    assert len(placed) > 20
    assert orders == placed
    assert fills == filled
    assert money(paper_out, "equity") == money(backtest_out, "final equity")
    extended = bool(session)
    assert ("pre/post-market bars left out" in backtest_out) is not extended
