"""Least privilege in the wiring: a function given no Alpaca keys gets no broker, and anything
that tries to reach one fails loudly instead of trading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from quantterminal.core.market_data.feed_events import BarSource, BarUpdate
from quantterminal.core.models import Bar
from quantterminal.wiring.runtime import NoBroker, NoBrokerError, Runtime


def test_a_function_without_the_alpaca_secret_cannot_trade(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/ledger.sqlite3", "QT_STRATEGIES": "momentum"}
    runtime = Runtime.from_env(env)
    runtime.ledger.migrate()  # type: ignore[attr-defined]
    assert isinstance(runtime.broker, NoBroker)
    with pytest.raises(NoBrokerError, match="no broker"):
        runtime.broker.account()
    # reads work (what the API and the reports need) ...
    assert runtime.queries is not None
    # ... and a decision that would place an order fails loudly, leaving nothing half-placed
    t0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
    bars = [Bar("SPY", t0 + timedelta(minutes=i), 100.0 + i, 100.0 + i, 100.0 + i, 100.0 + i, 1000) for i in range(40)]

    def decide_all() -> None:
        for bar in bars:
            runtime.desk.step(BarUpdate(bar, BarSource.PROVIDER), bar.timestamp + timedelta(minutes=1))

    with pytest.raises(NoBrokerError):
        decide_all()
    assert runtime.store.open_orders("paper") == []
    runtime.ledger.close()
