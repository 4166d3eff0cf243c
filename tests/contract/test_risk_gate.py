"""Concurrent signals cannot overspend: reservations are made atomically in the real state store."""

from __future__ import annotations

import multiprocessing
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from quantterminal.adapters.redis_state import RedisStateStore
from quantterminal.core.models import Side
from quantterminal.core.risk import AccountView, OrderIntent, RiskLimits
from quantterminal.core.risk_gate import RiskGate
from tests.services import REDIS_URL, check_redis, delete_redis_keys, require

OPEN = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)
LIMITS = RiskLimits(position_fraction=Decimal(1))


def _try_order(prefix: str, n: int) -> bool:
    store = RedisStateStore(REDIS_URL, prefix=prefix)
    gate = RiskGate(store, "paper", LIMITS)
    account = AccountView(Decimal(100_000), Decimal(100_000), {}, {f"S{n}": Decimal(100)})
    decision = gate.check(OrderIntent(f"o{n}", "s", f"S{n}", Side.BUY, 300, Decimal(100)), account, OPEN)
    store.close()
    return decision.accepted


def test_eight_processes_reserving_30_percent_each_get_exactly_three_orders() -> None:
    require("Redis at " + REDIS_URL, check_redis)
    prefix = f"qttest-{uuid.uuid4().hex[:12]}"
    try:
        with multiprocessing.get_context("spawn").Pool(8) as pool:
            accepted = pool.starmap(_try_order, [(prefix, n) for n in range(8)])
        state = RedisStateStore(REDIS_URL, prefix=prefix).get_risk_state("paper")
        assert sum(accepted) == 3
        assert len(state.reservations) == 3
        assert sum((r.notional for r in state.reservations), Decimal(0)) <= Decimal(100_000)
    finally:
        delete_redis_keys(f"{prefix}:*")
