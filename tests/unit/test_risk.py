"""The risk manager: each rule with its reason, halts and the breaker, and a property test that no
sequence of signals and prices produces an accepted order that breaches a limit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantterminal.adapters.ledger.sqlite_ledger import SqliteLedger
from quantterminal.adapters.state.memory_state import MemoryStateStore
from quantterminal.core.accounting.orders import Order, OrderType
from quantterminal.core.accounting.state import RiskState
from quantterminal.core.models import Side
from quantterminal.core.risk.gate import RiskGate
from quantterminal.core.risk.manager import AccountView, RiskLimits, evaluate, halt, resume, settle

D = Decimal
OPEN = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)  # Monday 10:00 New York
LIMITS = RiskLimits(max_order_notional=D("50000"), allowed_symbols=frozenset({"SPY", "QQQ", "IWM"}))


def view(equity: str = "100000", cash: str = "100000", **positions: int) -> AccountView:
    return AccountView(D(equity), D(cash), positions, {"SPY": D("500"), "QQQ": D("400"), "IWM": D("200")})


def intent(qty: int = 10, side: Side = Side.BUY, symbol: str = "SPY", price: str = "500", coid: str = "o1") -> Order:
    return Order(coid, "momentum", symbol, side, qty, OrderType.LIMIT, limit_price=D(price))


def test_an_order_within_every_limit_is_accepted_and_reserved() -> None:
    decision = evaluate(intent(), view(), RiskState("paper"), LIMITS, OPEN)
    assert (decision.accepted, decision.rule) == (True, "accepted")
    assert decision.state.reservations[0].notional == D("5000")
    assert decision.state.day == date(2024, 3, 4)
    assert decision.state.opening_equity == D("100000")


@pytest.mark.parametrize(
    ("order", "account", "now", "rule", "reason"),
    [
        (intent(symbol="TSLA"), view(), OPEN, "allow_list", "TSLA is not on the symbol allow-list"),
        (intent(), view(), datetime(2024, 3, 4, 21, 0, tzinfo=UTC), "market_hours", "outside regular trading hours"),
        (intent(), view(), datetime(2024, 3, 29, 15, 0, tzinfo=UTC), "market_hours", "outside"),  # Good Friday
        (intent(price="520"), view(), OPEN, "price_band", "400 bps from the last price 500"),
        (intent(qty=101, price="500"), view(equity="10000000", cash="10000000"), OPEN, "max_notional", "exceeds 50000"),
        (intent(qty=21), view(), OPEN, "position_limit", "exposure 10500.00 incl. pending orders"),
        (intent(qty=15), view(cash="5000"), OPEN, "buying_power", "exceeds buying power 5000.00"),
        (intent(qty=0), view(), OPEN, "order", "positive quantity"),
    ],
)
def test_each_rule_rejects_with_its_reason(
    order: Order, account: AccountView, now: datetime, rule: str, reason: str
) -> None:
    decision = evaluate(order, account, RiskState("paper"), LIMITS, now)
    assert not decision.accepted
    assert decision.rule == rule
    assert reason in decision.reason
    assert decision.state.reservations == ()


def test_pending_orders_count_toward_position_and_buying_power() -> None:
    state = RiskState("paper")
    first = evaluate(intent(qty=15, coid="a"), view(), state, LIMITS, OPEN)
    assert first.accepted
    second = evaluate(intent(qty=6, coid="b"), view(), first.state, LIMITS, OPEN)  # 21 shares in all
    assert (second.accepted, second.rule) == (False, "position_limit")
    other = evaluate(intent(qty=20, symbol="QQQ", price="400", coid="c"), view(cash="10000"), first.state, LIMITS, OPEN)
    assert (other.accepted, other.rule) == (False, "buying_power")  # 8000 > 10000 - 7500 reserved
    released = settle(first.state, "a", 0)
    assert evaluate(intent(qty=6, coid="b"), view(), released, LIMITS, OPEN).accepted


def test_the_same_order_cannot_pass_twice() -> None:
    first = evaluate(intent(), view(), RiskState("paper"), LIMITS, OPEN)
    assert evaluate(intent(), view(), first.state, LIMITS, OPEN).rule == "duplicate"


def test_daily_loss_halts_entries_but_allows_exits_until_the_next_day() -> None:
    state = evaluate(intent(qty=1), view(), RiskState("paper"), LIMITS, OPEN).state  # opening equity 100000
    state = settle(state, "o1", 0)
    down = view(equity="94900", cash="90000", SPY=10)
    entry = evaluate(intent(qty=1, symbol="QQQ", price="400", coid="e"), down, state, LIMITS, OPEN)
    assert (entry.accepted, entry.rule) == (False, "daily_loss")
    assert any("daily loss limit" in a for a in entry.alerts)
    exit_ = evaluate(intent(qty=10, side=Side.SELL, coid="x"), down, entry.state, LIMITS, OPEN)
    assert exit_.accepted
    assert exit_.alerts == ()  # alerted once, when it tripped
    tomorrow = evaluate(
        intent(qty=1, symbol="QQQ", price="400", coid="t"), down, exit_.state, LIMITS, OPEN + timedelta(days=1)
    )
    assert tomorrow.accepted  # a new day, a new opening equity


def test_a_brackets_loss_at_its_stop_must_leave_equity_above_the_days_loss_line() -> None:
    """Opened at 100,000 with a 5% daily loss: 98,000 of equity leaves 3,000 to lose today."""
    state = evaluate(intent(qty=1), view(), RiskState("paper"), LIMITS, OPEN).state
    state = settle(state, "o1", 0)
    account = view(equity="98000", cash="98000")
    wide = replace(intent(qty=18, coid="w"), stop_loss=D("330"), take_profit=D("520"))  # 18 x 170 = 3,060 at risk
    refused = evaluate(wide, account, state, LIMITS, OPEN)
    assert (refused.accepted, refused.rule) == (False, "daily_loss")
    assert "would lose 3060.00" in refused.reason
    assert refused.state.reservations == ()
    assert evaluate(replace(wide, stop_loss=D("340")), account, state, LIMITS, OPEN).accepted  # 2,880 at risk
    assert evaluate(replace(wide, stop_loss=None, take_profit=None), account, state, LIMITS, OPEN).accepted
    short = replace(intent(qty=18, side=Side.SELL, coid="s"), stop_loss=D("670"), take_profit=D("480"))
    assert evaluate(short, account, state, LIMITS, OPEN).rule == "daily_loss"  # 18 x 170 above the entry


def test_drawdown_breaker_pauses_everything_until_resumed() -> None:
    state = replace(RiskState("paper"), peak_equity=D("120000"))
    decision = evaluate(intent(side=Side.SELL, coid="x"), view(equity="101000", SPY=10), state, LIMITS, OPEN)
    assert (decision.accepted, decision.rule) == (False, "halted")
    assert "drawdown circuit breaker" in decision.reason
    assert len(decision.alerts) == 1
    assert evaluate(intent(coid="y"), view(equity="101000"), decision.state, LIMITS, OPEN).rule == "halted"
    resumed = evaluate(intent(coid="y"), view(equity="101000"), resume(decision.state), LIMITS, OPEN)
    assert resumed.accepted
    assert resumed.state.peak_equity == D("101000")  # re-based: the breaker does not trip again at once
    manual = halt(replace(RiskState("paper"), peak_equity=D("120000")), "operator", OPEN)
    assert resume(manual).peak_equity == D("120000")  # a manual halt keeps the peak


def test_kill_switch_takes_effect_on_the_next_decision_and_is_recorded(tmp_path: object) -> None:
    ledger = SqliteLedger(":memory:")
    ledger.migrate()
    alerts: list[str] = []
    gate = RiskGate(MemoryStateStore(), "paper", LIMITS, ledger, alerts.append)
    assert gate.check(intent(coid="a"), view(), OPEN).accepted
    gate.halt("operator: bad fills on SPY", OPEN)
    refused = gate.check(intent(coid="b"), view(), OPEN + timedelta(seconds=1))
    assert (refused.accepted, refused.reason) == (False, "trading is halted: operator: bad fills on SPY")
    gate.resume("checked", OPEN + timedelta(seconds=2))
    assert gate.check(intent(coid="c", qty=1), view(), OPEN + timedelta(seconds=3)).accepted
    kinds = [(e.kind, e.reason) for e in ledger.risk_events_on(date(2024, 3, 4))]
    assert kinds == [
        ("halt", "operator: bad fills on SPY"),
        ("rejection", "trading is halted: operator: bad fills on SPY"),
        ("resume", "checked"),
    ]
    assert alerts == ["trading halted: operator: bad fills on SPY"]
    with pytest.raises(ValueError, match="a halt needs a reason"):
        halt(RiskState("paper"), "  ", OPEN)


def test_an_exchange_halt_refuses_every_entry_in_its_symbol_until_it_resumes() -> None:
    ledger = SqliteLedger(":memory:")
    ledger.migrate()
    alerts: list[str] = []
    store = MemoryStateStore()
    gate = RiskGate(store, "paper", LIMITS, ledger, alerts.append)
    gate.set_symbol_halted("SPY", True, "Trading Halt (T12)", OPEN)
    gate.set_symbol_halted("SPY", True, "Trading Halt (T12)", OPEN)  # Alpaca may repeat it: recorded once
    entry = gate.check(intent(coid="a"), view(), OPEN)
    store.update_position("paper", "momentum", "SPY", lambda p: p.apply_fill(Side.BUY, 10, D("500"), OPEN, "x1"))
    exit_ = gate.check(intent(coid="b", side=Side.SELL), view(SPY=10), OPEN)
    assert entry.rule == "symbol_halted"
    assert exit_.accepted, "an exit is not held back by our record of a halt: it waits at the broker"
    assert gate.check(intent(coid="c", symbol="QQQ", price="400"), view(), OPEN).accepted, "other symbols trade"
    assert RiskState.from_json(store.get_risk_state("paper").to_json(), 1).halted_symbols == (
        ("SPY", "Trading Halt (T12)", "2024-03-04"),
    )
    gate.set_symbol_halted("SPY", False, "Trading Resumption", OPEN + timedelta(minutes=5))
    assert gate.check(intent(coid="d"), view(), OPEN + timedelta(minutes=5)).accepted
    kinds = [e.kind for e in ledger.risk_events_on(date(2024, 3, 4))]
    assert kinds == ["symbol_halt", "rejection", "symbol_resume"]
    assert alerts == ["SPY halted by its exchange: Trading Halt (T12); no orders for it until it resumes"]


def test_a_halt_whose_resume_was_missed_ends_with_its_session() -> None:
    """Alpaca replays no status after a reconnect: a resume lost then must not block the symbol
    for good. A halt recorded before the next session's first order is kept."""
    store = MemoryStateStore()
    gate = RiskGate(store, "paper", LIMITS)
    gate.set_symbol_halted("SPY", True, "Trading Halt (T12)", OPEN)
    assert gate.check(intent(coid="a"), view(), OPEN + timedelta(hours=2)).rule == "symbol_halted"
    tomorrow = OPEN + timedelta(days=1)
    gate.set_symbol_halted("QQQ", True, "News pending (T1)", tomorrow - timedelta(hours=3))  # pre-market
    assert gate.check(intent(coid="b"), view(), tomorrow).accepted, "yesterday's halt is over"
    refused = gate.check(intent(coid="c", symbol="QQQ", price="400"), view(), tomorrow)
    assert refused.rule == "symbol_halted", "today's halt stands"
    assert [h[0] for h in store.get_risk_state("paper").halted_symbols] == ["QQQ"]


def test_a_halt_stored_before_halts_had_a_date_still_reads_and_ends_at_the_next_roll() -> None:
    old = RiskState("paper", day=date(2024, 3, 4), halted_symbols=(("SPY", "Trading Halt", ""),))
    text = old.to_json().replace('["SPY", "Trading Halt", ""]', '["SPY", "Trading Halt"]')
    assert RiskState.from_json(text, 1).halted_symbols == (("SPY", "Trading Halt", ""),)


# --- property: nothing accepted breaches a limit ------------------------------------------------

symbols = st.sampled_from(["SPY", "QQQ", "IWM", "TSLA"])


@st.composite
def steps(draw: st.DrawFn) -> list[tuple[Order, AccountView, int]]:
    out = []
    for i in range(draw(st.integers(1, 25))):
        last = {
            "SPY": D(draw(st.integers(40000, 60000))) / 100,
            "QQQ": D(draw(st.integers(30000, 50000))) / 100,
            "IWM": D(draw(st.integers(15000, 25000))) / 100,
            "TSLA": D(200),
        }
        symbol = draw(symbols)
        price = last[symbol] * (1 + D(draw(st.integers(-500, 500))) / 10_000)
        order = Order(
            f"o{i}",
            "s",
            symbol,
            draw(st.sampled_from([Side.BUY, Side.SELL])),
            draw(st.integers(1, 400)),
            OrderType.LIMIT,
            limit_price=price.quantize(D("0.01")),
        )
        equity = D(draw(st.integers(50_000, 150_000)))
        cash = D(draw(st.integers(0, 150_000)))
        positions = {s: draw(st.integers(-50, 50)) for s in ("SPY", "QQQ", "IWM")}
        minute = draw(st.integers(-120, 500))
        out.append((order, AccountView(equity, cash, positions, last), minute))
        # settle a random earlier order now and then
    return out


@given(steps(), st.lists(st.integers(0, 24), max_size=10))
def test_no_accepted_order_breaches_a_limit(sequence: list[tuple[Order, AccountView, int]], settles: list[int]) -> None:
    state = RiskState("paper")
    for i, (order, account, minute) in enumerate(sequence):
        if i in settles:
            state = settle(state, f"o{i - 1}", 0)
        now = datetime(2024, 3, 4, 14, 30, tzinfo=UTC) + timedelta(minutes=minute)
        before = state
        decision = evaluate(order, account, state, LIMITS, now)
        state = decision.state
        if not decision.accepted:
            assert decision.reason
            assert order.client_order_id not in {r.client_order_id for r in state.reservations}
            continue
        assert not before.halted
        assert order.symbol in LIMITS.allowed_symbols  # type: ignore[operator]
        assert datetime(2024, 3, 4, 14, 30, tzinfo=UTC) <= now < datetime(2024, 3, 4, 21, 0, tzinfo=UTC)
        last = account.last_prices[order.symbol]
        assert abs(order.price - last) / last * 10_000 <= LIMITS.price_band_bps
        assert order.qty * order.price <= LIMITS.max_order_notional
        pending = [r for r in before.reservations if r.symbol == order.symbol]
        start = account.positions.get(order.symbol, 0) + sum(r.qty * r.side.sign for r in pending)
        signed = order.qty * order.side.sign
        if not (signed * start < 0 and abs(signed) <= abs(start)):  # an entry, not only an exit
            assert state.entries_halted_on != state.day
            assert abs(start + signed) * order.price <= LIMITS.position_limit * account.equity
            assert (
                sum((r.notional for r in state.reservations), D(0))
                - sum((r.notional for r in before.reservations), D(0))
                == order.qty * order.price
            )
            assert order.qty * order.price <= account.cash - sum((r.notional for r in before.reservations), D(0))
