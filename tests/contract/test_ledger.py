"""The Ledger contract, run against every adapter: SQLite and PostgreSQL (real, on loopback).

Each PostgreSQL test works in a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import sqlite3
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from quantterminal.adapters.ledger.ledger_base import LedgerIntegrityError
from quantterminal.adapters.ledger.migrations import load_migrations
from quantterminal.adapters.ledger.postgres_ledger import PostgresLedger
from quantterminal.adapters.ledger.sqlite_ledger import SqliteLedger
from quantterminal.adapters.market_data.csv_bars import SAMPLE_ROOT, load_bars
from quantterminal.core.accounting.orders import Order, OrderType, OrderUpdate, TimeInForce
from quantterminal.core.accounting.records import EquitySnapshot, RiskEvent
from quantterminal.core.market_data.ports import IngestReport
from quantterminal.core.models import Bar, Direction, Execution, Fill, Side, Signal, Trade
from quantterminal.core.simulation.backtest import BacktestConfig
from quantterminal.errors import LedgerError, MigrationError, redact
from quantterminal.wiring.backtest import run_backtest
from quantterminal.wiring.factories import open_ledger
from tests.helpers import bar
from tests.services import POSTGRES_URL, check_postgres, drop_schema, new_schema, require

D = Decimal
Ledger = SqliteLedger | PostgresLedger
MONDAY = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)  # 09:30 New York, a regular session


def session(symbol: str = "SPY", minutes: int = 390, start: datetime = MONDAY, base: float = 100.0) -> list[Bar]:
    return [bar(i, base + (i % 7) * 0.01, symbol, start=start) for i in range(minutes)]


def count_bars(ledger: Ledger) -> int:
    return sum(
        len(b) for b in ledger.bars_between(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)).values()
    )


# --- migrations ------------------------------------------------------------------------------


def test_migrate_is_idempotent_and_recorded(ledger: Ledger) -> None:
    assert ledger.migrate() == []
    assert ledger.applied_migrations() == [
        f"{m.version:04d}_{m.name}"
        for m in load_migrations("postgres" if isinstance(ledger, PostgresLedger) else "sqlite")
    ]


def _migrate(job: tuple[str, Any]) -> list[str]:
    url, start = job
    start.wait()  # every process opens the new database at the same moment
    ledger = open_ledger(url)
    try:
        return ledger.migrate()
    finally:
        ledger.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_two_processes_migrating_at_once_apply_each_migration_once(kind: str, tmp_path: Path) -> None:
    if kind == "postgres":
        require("PostgreSQL at " + redact(POSTGRES_URL), check_postgres)
        schema = new_schema()
        url = f"{POSTGRES_URL}?schema={schema}"
    else:
        url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    # Four processes released together open one new file: SQLite may refuse a switch to WAL with
    # "database is locked" at once (no busy wait where it could deadlock); each must still open it.
    context = multiprocessing.get_context("spawn")
    try:
        with context.Manager() as manager, context.Pool(4) as pool:
            start = manager.Barrier(4)
            results = pool.map(_migrate, [(url, start)] * 4)
        assert sorted(len(r) for r in results) == [0, 0, 0, len(load_migrations("sqlite"))]
        ledger = open_ledger(url)
        assert len(ledger.applied_migrations()) == len(load_migrations("sqlite"))
        ledger.close()
    finally:
        if kind == "postgres":
            drop_schema(schema)


def test_an_edited_migration_is_refused(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    from quantterminal.adapters.ledger import migrations

    original = migrations.load_migrations

    def edited(dialect: str) -> list[migrations.Migration]:
        return [dataclasses.replace(m, sql=m.sql + "\n-- edited") for m in original(dialect)]

    monkeypatch.setattr("quantterminal.adapters.ledger.postgres_ledger.load_migrations", edited)
    monkeypatch.setattr("quantterminal.adapters.ledger.sqlite_ledger.load_migrations", edited)
    with pytest.raises(MigrationError, match="was edited after it was applied"):
        ledger.migrate()


# --- bars ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [5, 390])  # below and above PostgreSQL's COPY threshold
def test_bar_ingest_is_idempotent_and_counts_revisions(ledger: Ledger, size: int) -> None:
    bars = session(minutes=size)
    assert ledger.ingest_bars(bars) == IngestReport(inserted=size)
    assert ledger.ingest_bars(bars) == IngestReport(unchanged=size)
    revised = dataclasses.replace(bars[3], close=bars[3].close + 0.02, high=bars[3].close + 0.02, volume=999)
    assert ledger.ingest_bars([*bars[:4], revised]) == IngestReport(revised=1, unchanged=4)
    assert ledger.bar_revision("SPY", bars[3].timestamp) == 1
    assert ledger.bar_revision("SPY", bars[2].timestamp) == 0
    assert ledger.bar_revision("SPY", bars[3].timestamp - timedelta(days=1)) is None
    assert ledger.last_bars("SPY", 2)[0] == (revised if size == 5 else bars[-2])
    assert count_bars(ledger) == size


def test_a_batch_repeating_a_key_keeps_the_last(ledger: Ledger) -> None:
    first, second = bar(0, 100.0), bar(0, 101.0)
    assert ledger.ingest_bars([first, second]) == IngestReport(inserted=1, unchanged=1)
    assert ledger.last_bars("SPY", 5) == [second]


def test_bar_queries(ledger: Ledger) -> None:
    spy, qqq = session("SPY"), session("QQQ", base=400.0)
    ledger.ingest_bars(spy + qqq)
    assert ledger.last_bars("SPY", 3) == spy[-3:]
    assert ledger.last_bars("NOPE", 3) == []
    window = ledger.bars_between(spy[10].timestamp, spy[20].timestamp)
    assert window == {"QQQ": qqq[10:20], "SPY": spy[10:20]}
    assert ledger.bars_between(spy[0].timestamp, spy[-1].timestamp + timedelta(minutes=1), ["QQQ"]) == {"QQQ": qqq}


def test_stored_bars_feed_the_backtester_unchanged(ledger: Ledger) -> None:
    bars = load_bars(SAMPLE_ROOT / "lean_2013", regular_hours_only=True)
    ledger.ingest_bars([b for v in bars.values() for b in v])
    stored = ledger.bars_between(datetime(2013, 10, 1, tzinfo=UTC), datetime(2013, 10, 15, tzinfo=UTC))
    assert stored == bars
    config = BacktestConfig(("mean_reversion",))
    assert run_backtest(config, stored).final_equity == run_backtest(config, bars).final_equity


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"close": float("nan")}, "close is nan"),
        ({"volume": -1}, "volume -1 is negative"),
        ({"high": 1.0}, "high 1.0 is below low"),
        ({"timestamp": datetime(2024, 3, 4, 9, 30)}, "not timezone-aware UTC"),  # noqa: DTZ001
    ],
)
def test_a_bad_bar_fails_the_whole_batch_and_writes_nothing(
    ledger: Ledger, change: dict[str, object], message: str
) -> None:
    bars = session(minutes=300)
    bars[150] = dataclasses.replace(bars[150], **change)  # type: ignore[arg-type]
    with pytest.raises(LedgerError, match=rf"bar 150 .*{message}"):
        ledger.ingest_bars(bars)
    assert count_bars(ledger) == 0
    with pytest.raises(LedgerError, match="not a Bar"):
        ledger.ingest_bars([("SPY", 1, 2)])  # type: ignore[list-item]


def test_missing_minutes_follow_the_trading_calendar(ledger: Ledger) -> None:
    bars = session(minutes=390)
    del bars[200:205]
    del bars[0]
    ledger.ingest_bars(bars)
    saturday_to_tuesday = (datetime(2024, 3, 2, tzinfo=UTC), datetime(2024, 3, 5, 14, 31, tzinfo=UTC))
    missing = ledger.missing_minutes("SPY", *saturday_to_tuesday)
    assert missing == [MONDAY] + [MONDAY + timedelta(minutes=i) for i in range(200, 205)] + [
        datetime(2024, 3, 5, 14, 30, tzinfo=UTC)  # Tuesday's first minute is missing too
    ]
    good_friday = datetime(2024, 3, 29, tzinfo=UTC)
    assert ledger.missing_minutes("SPY", good_friday, good_friday + timedelta(days=1)) == []


# --- ticks ----------------------------------------------------------------------------------------


def ticks(n: int = 300) -> list[Trade]:
    return [
        Trade(
            "SPY",
            MONDAY + timedelta(milliseconds=37 * i),
            100.0 + i * 0.01,
            100 + i,
            f"t{i}",
            "V",
            ("@", "I") if i % 2 else (),
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("size", [5, 300])
def test_tick_ingest_is_idempotent(ledger: Ledger, size: int) -> None:
    trades = ticks(size)
    assert ledger.ingest_ticks(trades) == IngestReport(inserted=size)
    assert ledger.ingest_ticks(trades + trades[:2]) == IngestReport(unchanged=size + 2)
    assert ledger.last_ticks("SPY", 3) == trades[-3:]


def test_a_tick_without_trade_id_is_refused(ledger: Ledger) -> None:
    trades = ticks(5)
    trades[2] = dataclasses.replace(trades[2], trade_id=None)
    with pytest.raises(LedgerError, match=r"tick 2 .*trade id is missing"):
        ledger.ingest_ticks(trades)
    assert ledger.last_ticks("SPY", 10) == []


# --- retention ------------------------------------------------------------------------------------


def test_retention_drops_history_before_the_cutoff(ledger: Ledger) -> None:
    january = session(minutes=10, start=datetime(2024, 1, 8, 14, 30, tzinfo=UTC))
    march = session(minutes=10)
    ledger.ingest_bars(january + march)
    dropped = ledger.drop_before(datetime(2024, 2, 1, tzinfo=UTC))
    assert dropped
    assert ledger.bars_between(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC)) == {"SPY": march}
    if isinstance(ledger, PostgresLedger):
        assert "bars_p202401" in dropped
        assert "bars_p202403" in ledger.partitions()


@pytest.mark.parametrize("ledger", ["postgres"], indirect=True)
def test_postgres_partitions_are_created_ahead(ledger: Ledger) -> None:
    assert isinstance(ledger, PostgresLedger)
    ledger.maintain(ahead_days=3, now=datetime(2030, 5, 30, tzinfo=UTC))
    names = ledger.partitions()
    assert {"bars_p203005", "bars_p203006", "ticks_p20300530", "ticks_p20300602"} <= set(names)


# --- the audit trail --------------------------------------------------------------------------------


def order(i: int = 0, when: datetime = MONDAY) -> Order:
    return Order(
        f"momentum-SPY-{i}",
        "momentum",
        "SPY",
        Side.BUY,
        10 + i,
        OrderType.LIMIT,
        when,
        D("100.1234"),
        D("100.12"),
    )


def test_orders_are_recorded_once_and_listed_by_new_york_day(ledger: Ledger) -> None:
    late_evening = datetime(2024, 3, 5, 3, 0, tzinfo=UTC)  # still Monday the 4th in New York
    assert ledger.record_order(order(0))
    assert not ledger.record_order(order(0))
    assert ledger.record_order(order(1, late_evening))
    assert ledger.orders_on(date(2024, 3, 4)) == [order(0), order(1, late_evening)]
    assert ledger.orders_on(date(2024, 3, 5)) == []
    assert ledger.orders_between(MONDAY, late_evening) == [order(0)]  # the end is excluded
    assert ledger.orders_between(MONDAY, late_evening + timedelta(seconds=1)) == [order(0), order(1, late_evening)]


def test_an_orders_terms_and_its_exit_legs_are_kept_exactly(ledger: Ledger) -> None:
    """Stops, trailing distances, time in force, exit legs and the entry a leg belongs to come back
    as they went in; recorded again with other terms, the order is refused as a conflict."""
    entry = dataclasses.replace(order(3), time_in_force=TimeInForce.GTC, take_profit=D("101.5"), stop_loss=D("99.25"))
    leg = dataclasses.replace(
        order(4),
        client_order_id=f"{entry.client_order_id}.sl",
        side=Side.SELL,
        order_type=OrderType.STOP,
        limit_price=None,
        stop_price=D("99.25"),
        time_in_force=TimeInForce.GTC,
        parent=entry.client_order_id,
    )
    trail = dataclasses.replace(order(5), side=Side.SELL, order_type=OrderType.TRAILING_STOP, limit_price=None,
                                trail_bps=D("40"), time_in_force=TimeInForce.IOC)  # fmt: skip
    for o in (entry, leg, trail):
        assert ledger.record_order(o)
        assert not ledger.record_order(o)
    assert ledger.orders_between(MONDAY, MONDAY + timedelta(minutes=1)) == sorted(
        [entry, leg, trail], key=lambda o: o.client_order_id
    )
    with pytest.raises(LedgerIntegrityError, match="terms"):
        ledger.record_order(dataclasses.replace(entry, stop_loss=D("99.00")))


def test_order_events_append_in_order_and_ignore_redelivery(ledger: Ledger) -> None:
    x1 = Execution("x1", 4, D("100.11"), MONDAY + timedelta(seconds=1), 4)
    x2 = Execution("x2", 6, D("100.116"), MONDAY + timedelta(seconds=2), 10)
    events = [
        OrderUpdate("momentum-SPY-0", "new", MONDAY),
        OrderUpdate("momentum-SPY-0", "partial_fill", x1.timestamp, 4, x1, "b-1", D("100.11")),
        OrderUpdate("momentum-SPY-0", "fill", x2.timestamp, 10, x2, "b-1", D("100.114")),
    ]
    for event in events:
        assert ledger.append_order_event(event)
    assert not ledger.append_order_event(events[1])  # the same report again: stored once
    # An execution comes back from its fill's row; one whose fill was never written comes back missing
    ledger.append_fill(Fill("SPY", x1.timestamp, Side.BUY, 4, x1.price, D(0), "momentum-SPY-0", "x1"))
    reported = [events[0], events[1], dataclasses.replace(events[2], execution=None)]
    assert ledger.order_events("momentum-SPY-0") == reported
    other = OrderUpdate("momentum-SPY-1", "new", MONDAY)
    assert ledger.append_order_event(other)
    assert ledger.events_of_orders(["momentum-SPY-1", "momentum-SPY-0", "unknown"]) == {
        "momentum-SPY-0": reported,
        "momentum-SPY-1": [other],
    }
    assert ledger.events_of_orders([]) == {}


def fill(i: int, when: datetime = MONDAY) -> Fill:
    return Fill(
        "SPY",
        when + timedelta(seconds=i),
        Side.SELL,
        5,
        D("123.4567"),
        D("0.0049"),
        "momentum-SPY-0",
        f"x{i}",
    )


def test_fills_are_exact_idempotent_and_append_only(ledger: Ledger) -> None:
    assert ledger.append_fill(fill(1))
    assert ledger.append_fill(fill(2))
    assert not ledger.append_fill(fill(1))
    assert ledger.fills_on(date(2024, 3, 4)) == [fill(1), fill(2)]
    if isinstance(ledger, PostgresLedger):
        with pytest.raises(psycopg2.Error, match="fills is append-only: UPDATE refused"):
            ledger._transaction(lambda cur: cur.execute("UPDATE fills SET qty = 6"), "tamper")
    else:
        with pytest.raises(sqlite3.Error, match="fills is append-only: DELETE refused"):
            ledger._write(lambda conn: conn.execute("DELETE FROM fills"))
    assert ledger.fills_on(date(2024, 3, 4)) == [fill(1), fill(2)]
    assert ledger.fills_between(MONDAY + timedelta(seconds=2), MONDAY + timedelta(days=30)) == [fill(2)]


def test_fills_of_one_strategy_and_symbol_in_execution_order(ledger: Ledger) -> None:
    ledger.record_order(order(0))
    ledger.record_order(dataclasses.replace(order(7), strategy="other"))
    late, early = fill(5), fill(1)
    for f in (late, early, dataclasses.replace(fill(3), order_id="momentum-SPY-7", execution_id="y3")):
        ledger.append_fill(f)
    assert ledger.fills_for("momentum", "SPY") == [early, late]
    assert ledger.fills_for("other", "SPY")[0].execution_id == "y3"
    assert ledger.fills_for("momentum", "QQQ") == []


def test_a_known_key_with_different_content_fails_loudly_and_keeps_the_stored_row(ledger: Ledger) -> None:
    # Given a fill, an order, an order event and a signal already stored
    ledger.append_fill(fill(1))
    ledger.record_order(order(0))
    event = OrderUpdate("momentum-SPY-0", "fill", MONDAY, 10, None, "b-1", D("100.11"))
    ledger.append_order_event(event)
    signal = Signal("momentum", "SPY", MONDAY, Direction.LONG, 100.25)
    ledger.record_signal(signal)
    # When another record arrives under the same key with other content (an id collision)
    collisions = [
        (
            lambda: ledger.append_fill(dataclasses.replace(fill(1), qty=7, price=D("99"))),
            "fill 'x1'.*qty: stored 5, new 7",
        ),
        (lambda: ledger.record_order(dataclasses.replace(order(0), qty=99)), "order 'momentum-SPY-0'.*qty: stored 10"),
        (
            lambda: ledger.append_order_event(dataclasses.replace(event, broker_order_id="b-2")),
            "order event 'momentum-SPY-0:fill:10:'.*broker_order_id",
        ),
        (lambda: ledger.record_signal(dataclasses.replace(signal, direction=Direction.FLAT)), "signal .*direction"),
    ]
    # Then each is refused, naming both rows, and nothing changes
    for write, message in collisions:
        with pytest.raises(LedgerIntegrityError, match=message):
            write()
    assert ledger.fills_on(date(2024, 3, 4)) == [fill(1)]
    assert ledger.orders_on(date(2024, 3, 4)) == [order(0)]
    assert ledger.order_events("momentum-SPY-0") == [event]
    assert ledger.signals_between(MONDAY, MONDAY + timedelta(minutes=1)) == [signal]
    # And an exact repeat is still the harmless redelivery it always was
    assert not ledger.append_fill(fill(1))
    # (the average price is derived by us, not reported by the broker: a re-read may differ)
    assert not ledger.append_order_event(dataclasses.replace(event, filled_avg_price=D("100.2")))


def test_the_same_risk_event_is_recorded_once(ledger: Ledger) -> None:
    refusal = RiskEvent(MONDAY, "paper", "rejection", "position limit", "momentum", "SPY", {"rule": "position_limit"})
    for _ in range(3):
        ledger.record_risk_event(refusal)
    ledger.record_risk_event(dataclasses.replace(refusal, strategy="mean_reversion"))
    assert [e.strategy for e in ledger.risk_events_on(date(2024, 3, 4))] == ["momentum", "mean_reversion"]


@pytest.mark.parametrize(
    "bad",
    [
        dataclasses.replace(fill(1), price=D("NaN")),
        dataclasses.replace(fill(1), price=1.5),
        dataclasses.replace(fill(1), qty=0),
        dataclasses.replace(fill(1), execution_id=""),
        dataclasses.replace(fill(1), timestamp=datetime(2024, 3, 4)),  # noqa: DTZ001
    ],
)
def test_bad_fills_are_refused(ledger: Ledger, bad: Fill) -> None:
    with pytest.raises(LedgerError):
        ledger.append_fill(bad)
    assert ledger.fills_on(date(2024, 3, 4)) == []


def test_signals_risk_events_and_equity(ledger: Ledger) -> None:
    signal = Signal("momentum", "SPY", MONDAY, Direction.LONG, 100.25)
    assert ledger.record_signal(signal)
    assert not ledger.record_signal(signal)
    assert ledger.signals_between(MONDAY, MONDAY + timedelta(minutes=1)) == [signal]

    event = RiskEvent(MONDAY, "paper", "rejection", "position limit", "momentum", "SPY", {"limit": "10%"})
    ledger.record_risk_event(event)
    ledger.record_risk_event(dataclasses.replace(event, kind="halt", reason="daily loss", symbol=None))
    assert [e.kind for e in ledger.risk_events_on(date(2024, 3, 4))] == ["rejection", "halt"]
    assert ledger.risk_events_on(date(2024, 3, 4))[0] == event

    snaps = [
        EquitySnapshot("paper", MONDAY + timedelta(minutes=i), D("100000.005") + i, D("5000.10")) for i in range(3)
    ]
    for snap in snaps:
        ledger.record_equity(snap)
    ledger.record_equity(dataclasses.replace(snaps[1], equity=D("99999.99")))
    assert ledger.equity_curve("paper", MONDAY, MONDAY + timedelta(hours=1)) == [
        snaps[0],
        dataclasses.replace(snaps[1], equity=D("99999.99")),
        snaps[2],
    ]
    assert ledger.equity_curve("other", MONDAY, MONDAY + timedelta(hours=1)) == []


@pytest.mark.parametrize("ledger", ["postgres"], indirect=True)
def test_only_analytics_rows_commit_without_waiting_for_the_disk(ledger: PostgresLedger) -> None:
    """An equity snapshot (one a minute from every bar handler) commits asynchronously (PostgreSQL's
    per-transaction ``synchronous_commit``: a crash may lose the last moment of them, never leaves
    the database inconsistent); every other write -- orders, fills, events -- waits for the flush."""

    def setting(cur: Any) -> str:
        cur.execute("SHOW synchronous_commit")
        return str(cur.fetchone()[0])

    def relaxed(cur: Any) -> str:  # as the ledger sends an equity snapshot or a signal
        cur.execute(ledger.dialect.relaxed + "SHOW synchronous_commit")
        return str(cur.fetchone()[0])

    assert ledger._write_statements(relaxed, "probe") == "off"
    assert ledger._write(setting, "probe") == "on"  # the relaxed setting did not outlive its statement
    assert ledger._write_statements(setting, "probe") == "on"
    ledger.record_equity(EquitySnapshot("paper", MONDAY, D("100000.00"), D("100000.00")))
    assert ledger.equity_curve("paper", MONDAY, MONDAY + timedelta(minutes=1))[0].equity == D("100000.00")
    # a relaxed write is one transaction: when it fails, nothing of it stays, and the connection
    # goes on with transactions as before
    later = MONDAY + timedelta(minutes=1)
    with pytest.raises(LedgerError, match="division by zero"):
        ledger._execute(
            "probe",
            "INSERT INTO equity_snapshots (account, ts, equity, cash) VALUES ('paper', ?, 1, 1); SELECT 1 / 0",
            (later,),
            durable=False,
        )
    assert len(ledger.equity_curve("paper", MONDAY, MONDAY + timedelta(hours=1))) == 1
    assert ledger._write(setting, "probe") == "on"
    # a signal, written relaxed, is still written once and checked against a second copy
    signal = Signal("momentum", "SPY", MONDAY, Direction.LONG, 100.5)
    assert ledger.record_signal(signal) is True
    assert ledger.record_signal(signal) is False
    with pytest.raises(LedgerIntegrityError):
        ledger.record_signal(dataclasses.replace(signal, price=101.0))


def test_sqlite_holds_analytics_rows_a_moment_and_never_an_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite writes equity snapshots together (a fast replay records one every minute of data):
    this ledger reads them at once; another process sees them after the next write, after
    ``RELAXED_SECONDS`` or on close; an order is in the file when ``record_order`` returns."""
    from quantterminal.adapters.ledger import sqlite_ledger

    clock = [100.0]
    monkeypatch.setattr(sqlite_ledger.time, "monotonic", lambda: clock[0])
    path = tmp_path / "ledger.sqlite3"
    writer, reader = SqliteLedger(path), SqliteLedger(path)
    writer.migrate()
    hour = MONDAY + timedelta(hours=1)
    snaps = [EquitySnapshot("paper", MONDAY + timedelta(minutes=i), D(100_000 + i), D("5000")) for i in range(3)]
    try:
        writer.record_equity(snaps[0])
        writer.record_equity(snaps[1])
        writer.record_equity(dataclasses.replace(snaps[1], equity=D("99999.50")))  # the same minute again
        assert reader.equity_curve("paper", MONDAY, hour) == []  # held, not yet in the file
        assert writer.equity_curve("paper", MONDAY, hour) == [
            snaps[0],
            dataclasses.replace(snaps[1], equity=D("99999.50")),
        ]
        assert len(reader.equity_curve("paper", MONDAY, hour)) == 2  # the read wrote them

        writer.record_equity(snaps[2])
        order = Order("momentum-SPY-1", "momentum", "SPY", Side.BUY, 10, OrderType.MARKET, MONDAY, D("100"))
        assert writer.record_order(order)  # durable, and the snapshot held before it goes first
        assert len(reader.equity_curve("paper", MONDAY, hour)) == 3
        assert [o.client_order_id for o in reader.orders_between(MONDAY, hour)] == ["momentum-SPY-1"]

        later = dataclasses.replace(snaps[2], timestamp=MONDAY + timedelta(minutes=5))
        writer.record_equity(later)
        assert len(reader.equity_curve("paper", MONDAY, hour)) == 3
        clock[0] += sqlite_ledger.RELAXED_SECONDS  # the market's pace: the next one writes both
        writer.record_equity(dataclasses.replace(later, timestamp=MONDAY + timedelta(minutes=6)))
        assert len(reader.equity_curve("paper", MONDAY, hour)) == 5

        writer.record_equity(dataclasses.replace(later, timestamp=MONDAY + timedelta(minutes=7)))
    finally:
        writer.close()  # writes what is held
    assert len(reader.equity_curve("paper", MONDAY, hour)) == 6
    reader.close()


@pytest.mark.parametrize("ledger", ["postgres"], indirect=True)
def test_a_dropped_database_connection_is_reopened_and_the_call_retried(ledger: Ledger) -> None:
    assert isinstance(ledger, PostgresLedger)
    ledger.ingest_bars(session(minutes=3))
    pid = ledger._transaction(lambda cur: (cur.execute("SELECT pg_backend_pid()"), cur.fetchone()[0])[1], "pid")
    admin = psycopg2.connect(POSTGRES_URL)
    admin.autocommit = True
    admin.cursor().execute("SELECT pg_terminate_backend(%s)", (pid,))
    admin.close()
    assert ledger.ingest_bars(session(minutes=5)) == IngestReport(inserted=2, unchanged=3)
    assert len(ledger.last_bars("SPY", 10)) == 5


@pytest.mark.parametrize("ledger", ["postgres", "sqlite"], indirect=True)
def test_the_feed_writer_and_the_trading_side_share_one_ledger_from_two_threads(ledger: Ledger) -> None:
    """A paper run's bar writer thread and its trading thread use the same ledger object at once;
    no connection may be entered by both (psycopg2: "connection cannot be re-entered")."""
    import threading

    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def feed() -> None:
        start.wait()
        for day in range(20):
            try:
                ledger.ingest_bars(session(minutes=30, start=MONDAY + timedelta(days=day)))
            except BaseException as exc:
                errors.append(exc)

    def trading() -> None:
        start.wait()
        for i in range(150):
            try:
                ledger.record_order(order(i))
                ledger.append_fill(dataclasses.replace(fill(i), order_id=f"momentum-SPY-{i}"))
                ledger.fills_for("momentum", "SPY")
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=feed), threading.Thread(target=trading)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert count_bars(ledger) == 20 * 30
    assert len(ledger.fills_for("momentum", "SPY")) == 150
