"""Strategies kept live in the process (``ResidentStrategies``: a backtest, a paper run on a
memory store) answer every delivery of bars -- repeated, late -- as strategies restored from
snapshots (``SnapshotStrategies``: the Lambdas, a paper run on Redis) do -- the order terms a
strategy asks for (``Wanted``) included, on minute bars and on longer ones."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from quantterminal.adapters.broker.simulated_broker import SimulatedBroker
from quantterminal.adapters.state.object_state import ObjectStateStore
from quantterminal.core.models import Bar
from quantterminal.core.strategies import STRATEGIES, StrategyInstance, builtin_instance
from quantterminal.core.trading.config import TradingConfig
from quantterminal.core.trading.kernel import KernelHandlers, KernelSpec, build_kernel
from quantterminal.core.trading.strategy_hosts import ResidentStrategies, SnapshotStrategies
from quantterminal.examples.stop_breakout import StopBreakout
from tests.helpers import bars_from_closes

CLOSES = [100 + ((i * 7) % 13) - ((i * 3) % 5) * 0.5 for i in range(120)]
BARS = bars_from_closes(CLOSES)


def engines() -> dict[str, object]:
    stops = [
        StrategyInstance.of(StopBreakout, params={"entry_bars": 5, "exit_bars": 3}),
        StrategyInstance.of(StopBreakout, name="stops_5m", params={"entry_bars": 3, "exit_bars": 2}, timeframe="5min"),
    ]
    instances = [*(builtin_instance(name, None) for name in STRATEGIES), *stops]
    spec = KernelSpec("paper", instances, TradingConfig())
    return dict(build_kernel(spec, KernelHandlers(ObjectStateStore(), SimulatedBroker())).engines)


def answers(host: ResidentStrategies | SnapshotStrategies, deliveries: list[Bar]) -> list[tuple[object, ...]]:
    by_name = engines()
    out = []
    for bar in deliveries:
        got = host.answers(by_name, bar)  # type: ignore[arg-type]
        out.append(
            tuple(
                (name, c.wanted, c.new, None if c.terms is None else c.terms.state()) for name, c in sorted(got.items())
            )
        )
    return out


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(BARS) - 1), st.integers(0, 3)), max_size=12))
def test_repeated_and_late_bars_get_the_answers_the_snapshots_give(events: list[tuple[int, int]]) -> None:
    """Every bar once, in order, with some delivered again right away or a few bars late."""
    deliveries = list(BARS)
    for at, back in sorted(events, reverse=True):
        deliveries.insert(at + 1, BARS[max(0, at - back)])
    resident = answers(ResidentStrategies(), deliveries)
    snapshots = answers(SnapshotStrategies(ObjectStateStore()), deliveries)
    assert resident == snapshots
    assert any(wanted is not None for row in resident for _, wanted, _, _ in row)  # the strategies did warm up
    assert any(terms is not None for row in resident for *_, terms in row)
