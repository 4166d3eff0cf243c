"""A user's strategy file, named in a configuration, run by the Lambda handlers: two instances of
one class with different parameters, side by side on one account, each with its own positions and
snapshots -- on the real PostgreSQL and Redis. (The CDK synth test shows the file inside the
bundle and the runtime loading it from there.)"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from lambdas import wiring
from quantterminal.config.load import from_text
from quantterminal.core.models import Bar
from quantterminal.wiring.runtime import Runtime
from tests.lambdas.harness import Live, forward_updates, run_bars

USER = Path(__file__).resolve().parents[1] / "user_strategies"
CONFIG = """
[[strategies]]
name = "trend_fast"
strategy = "channel_trend.py:ChannelTrend"
allocation = 0.4
params = { fast = 3, slow = 8 }

[[strategies]]
name = "trend_slow"
strategy = "channel_trend.py:ChannelTrend"
allocation = 0.4
params = { fast = 10, slow = 30 }

[data]
symbols = ["SPY"]
"""


def test_the_bar_handler_runs_two_instances_of_a_users_strategy(live: Live, spy_2011_rth: list[Bar]) -> None:
    loaded = from_text(CONFIG, "quantterminal.toml", USER)
    rt = live.runtime
    runtime = Runtime.build(
        rt.store, rt.ledger, live.broker, strategies=loaded.instances, config=loaded.config.trading(), symbols=("SPY",)
    )
    wiring.use(runtime)
    live.runtime = runtime
    run_bars(live, spy_2011_rth[:200])
    live.broker.flush()
    forward_updates(live, start=10_000)
    orders = live.broker.all_orders()
    by_instance = {
        n: [o for o in orders if o.client_order_id.startswith(f"{n}-")] for n in ("trend_fast", "trend_slow")
    }
    assert all(by_instance.values()), {k: len(v) for k, v in by_instance.items()}
    assert len(by_instance["trend_fast"]) > len(by_instance["trend_slow"])  # the faster one trades more
    for name in ("trend_fast", "trend_slow"):
        snapshot = runtime.store.load_snapshot(name, "SPY")
        assert snapshot is not None
        assert snapshot["strategy"] == "channel_trend"
        assert snapshot["params"]["fast"] == (3 if name == "trend_fast" else 10)
        fills = runtime.ledger.fills_for(name, "SPY")
        assert runtime.store.get_position("paper", name, "SPY").qty == sum(f.qty * f.side.sign for f in fills)
    # each sized from its 40% of the account: 10% of that per position
    first = by_instance["trend_fast"][0]
    assert first.qty * float(first.limit_price or 0) <= 0.04 * 100_000 * 1.001
    assert dataclasses.is_dataclass(loaded.instances[0].params)
