"""The feed pipeline without a network: trades -> built bars, provider bars merged, revisions,
sinks in order, lag, health and its metrics; plus the pieces it rests on (batching, bus, codecs)."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantterminal.adapters.market_data.feed_metrics import EmfHealthReporter
from quantterminal.adapters.streams.batching import BatchWorker
from quantterminal.adapters.streams.bus import LocalBus
from quantterminal.adapters.streams.record_sink import bar_records, order_records
from quantterminal.core.accounting.orders import OrderUpdate
from quantterminal.core.market_data.feed_events import BarSource, BarUpdate, Control, TradeCancel, TradingStatus
from quantterminal.core.market_data.feed_health import FeedHealth
from quantterminal.core.market_data.feed_pipeline import FeedPipeline
from quantterminal.core.models import Bar, Execution, Trade
from quantterminal.core.trading.feed_codec import (
    RecordError,
    decode_bar_update,
    decode_order_update,
    encode_order_update,
)

T0 = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)


class NoHistory:
    def minute_bars(self, symbol: str, start: datetime, end: datetime) -> list[Bar]:
        return []


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def trade(second: float, price: float, size: int = 100, tid: str = "") -> Trade:
    return Trade("SPY", T0 + timedelta(seconds=second), price, size, tid or f"{second}", "V")


def test_trades_become_a_bar_on_the_clock_and_the_providers_bar_revises_it() -> None:
    clock = Clock(T0)
    out: list[BarUpdate] = []
    pipeline = FeedPipeline(NoHistory(), [out.append], grace=timedelta(seconds=2), clock=clock)
    for t in (trade(1, 100.0), trade(30, 101.0), trade(59, 100.5), trade(30, 101.0)):  # one repeat
        pipeline.on_event(t)
    pipeline.on_event(Control("status", "SPY: trading halt"))
    pipeline.on_event(TradeCancel("SPY", "30", "V", T0))
    clock.now = T0 + timedelta(seconds=61)
    pipeline.tick()
    assert out == []  # still inside the grace period
    clock.now = T0 + timedelta(seconds=62, milliseconds=150)
    pipeline.tick()
    (built,) = out
    assert built.source is BarSource.BUILT
    b = built.bar
    # the canceled print (trade 30 at 101.0) is taken out and the minute aggregated again
    assert (b.open, b.high, b.low, b.close, b.volume, b.trade_count) == (100.0, 100.5, 100.0, 100.5, 200, 2)
    # the provider's bar for the same minute agrees: suppressed; then it corrects the minute: a revision
    pipeline.on_event(BarUpdate(Bar("SPY", T0, 100.0, 100.5, 100.0, 100.5, 200, 100.25, 2), BarSource.PROVIDER))
    pipeline.on_event(BarUpdate(Bar("SPY", T0, 100.0, 101.0, 100.0, 100.5, 300, 100.5, 3), BarSource.REVISION))
    assert [u.source for u in out] == [BarSource.BUILT, BarSource.REVISION]
    assert pipeline.trade_cancels == 1
    lags = pipeline.take_lags()
    assert lags[0] == pytest.approx(2150.0)


def test_finish_emits_open_bars_and_fills_the_tail() -> None:
    out: list[BarUpdate] = []
    pipeline = FeedPipeline(NoHistory(), [out.append], clock=Clock(T0))
    pipeline.on_event(trade(5, 100.0))
    pipeline.finish(T0 + timedelta(minutes=5))
    assert [u.bar.timestamp for u in out] == [T0]


def test_every_sink_gets_every_bar_in_order() -> None:
    first: list[BarUpdate] = []
    second: list[BarUpdate] = []
    pipeline = FeedPipeline(NoHistory(), [first.append, second.append], measure_lag=False)
    bars = [BarUpdate(Bar("SPY", T0 + timedelta(minutes=i), 1, 1, 1, 1, 1), BarSource.PROVIDER) for i in range(5)]
    for u in bars:
        pipeline.on_event(u)
    assert first == second == bars
    assert pipeline.take_lags() == []


def test_only_subscribed_symbols_reach_the_sinks() -> None:
    """A provider (or a hostile server) sending symbols nobody asked for fills no ledger with them."""
    out: list[BarUpdate] = []
    statuses: list[TradingStatus] = []
    pipeline = FeedPipeline(NoHistory(), [out.append], statuses=[statuses.append], measure_lag=False, symbols=["SPY"])
    for symbol in ("SPY", "ZZZZ", "X" * 5_000, "spy"):
        pipeline.on_event(BarUpdate(Bar(symbol, T0, 1, 1, 1, 1, 1), BarSource.PROVIDER))
        pipeline.on_event(TradingStatus(symbol, True, T0, "T1", "halt"))
    pipeline.on_event(Trade("ZZZZ", T0, 1.0, 100, "1", "V"))
    pipeline.finish(T0 + timedelta(minutes=1))
    assert [u.bar.symbol for u in out] == ["SPY"]
    assert [s.symbol for s in statuses] == ["SPY"]
    assert pipeline.dropped_unsubscribed == 7


def test_batch_worker_retries_a_failed_batch_in_order_and_loses_nothing() -> None:
    written: list[int] = []
    failures = iter([True, True, False] + [False] * 1000)

    def write(batch: list[int]) -> None:
        if next(failures):
            raise ConnectionError("away")
        time.sleep(0.001)
        written.extend(batch)

    worker: BatchWorker[int] = BatchWorker(write, "test", max_batch=50, retry_base=0.001)
    for i in range(2000):
        worker.submit(i)
    assert worker.close(10)
    assert written == list(range(2000))
    assert worker.stats.failures == 2
    assert worker.stats.largest_batch <= 50
    assert worker.stats.batches < 2000  # batched while busy


def test_the_bus_delivers_every_record_to_every_subscriber_in_order() -> None:
    bus = LocalBus()
    a, b = bus.stream("bars").subscribe(), bus.stream("bars").subscribe()
    sink = bar_records(bus.stream("bars"))
    bars = [BarUpdate(Bar("IBM", T0 + timedelta(minutes=i), 1, 1, 1, 1, i), BarSource.BUILT) for i in range(50)]
    threads = [threading.Thread(target=lambda: [sink(u) for u in bars])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sink.close(5)
    for q in (a, b):
        records = [q.get_nowait() for _ in range(50)]
        assert [decode_bar_update(data) for _, data in records] == bars
        assert {key for key, _ in records} == {"IBM"}
        assert q.empty()


executions = st.builds(
    Execution,
    st.text(min_size=1, max_size=12),
    st.integers(1, 10_000),
    st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("99999.9999"), places=4),
    st.datetimes(timezones=st.just(UTC)),
)


@given(
    st.builds(
        OrderUpdate,
        st.text(min_size=1, max_size=40),
        st.sampled_from(["new", "fill", "partial_fill", "canceled"]),
        st.datetimes(timezones=st.just(UTC)),
        st.integers(0, 10_000),
        st.none() | executions,
        st.none() | st.text(max_size=36),
    )
)
def test_order_records_round_trip_exactly(update: OrderUpdate) -> None:
    assert decode_order_update(encode_order_update(update)) == update


def test_order_records_from_the_future_or_garbage_are_refused_clearly() -> None:
    with pytest.raises(RecordError, match="version 2"):
        decode_order_update(json.dumps({"v": 2}))
    with pytest.raises(RecordError, match="not an order record"):
        decode_order_update(b"}{")


def test_order_records_are_keyed_by_client_order_id() -> None:
    bus = LocalBus()
    q = bus.stream("orders").subscribe()
    sink = order_records(bus.stream("orders"))
    sink(OrderUpdate("qt-1", "new", T0))
    assert sink.close(5)
    key, data = q.get_nowait()
    assert key == "qt-1"
    assert decode_order_update(data) == OrderUpdate("qt-1", "new", T0)


def health(**changes: object) -> FeedHealth:
    values: dict[str, object] = dict.fromkeys(FeedHealth.__dataclass_fields__, 0)
    values.update(lag_p50_ms=12.0, lag_p99_ms=40.0, last_bar=None, reader_alive=True, order_stream=None)
    values.update(changes)
    return FeedHealth(**values)  # type: ignore[arg-type]


def test_health_goes_out_as_emf_metrics_with_counters_as_increases(capsys: pytest.CaptureFixture[str]) -> None:
    reporter = EmfHealthReporter()
    reporter(health(messages=100, bars=10, reconnects=1))
    reporter(health(messages=250, bars=15, reconnects=1, gaps=2))
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "QuantTerminal"
    assert (first["FeedMessages"], first["FeedBars"], first["FeedReconnects"]) == ([100], [10], [1])
    assert (second["FeedMessages"], second["FeedBars"], second["FeedReconnects"]) == ([150], [5], [0])
    assert second["FeedGaps"] == [2]
    assert (second["FeedLagP50"], second["FeedLagP99"]) == ([12.0], [40.0])
    assert second["service"] == "feed"


def test_the_health_line_says_what_an_operator_needs() -> None:
    line = health(messages_per_s=812.4, bars=1234, reconnects=3, gaps=2, backfilled=5, last_bar="SPY 15:59Z").line()
    assert line.startswith("feed ok | 812 msg/s | bars 1,234 (last SPY 15:59Z) | lag p50/p99 12/40 ms")
    assert "reconnects 3" in line
    assert "gaps 2 (backfilled 5, unfilled 0)" in line
    assert health(unfilled=1).status == "degraded"
    assert health(reader_alive=False).status == "DEAD"
    assert (
        "late 4 (stored, not traded) | dropped 1 future, 2 unsubscribed"
        in health(late=4, dropped_future=1, dropped_unsubscribed=2).line()
    )
    orders_down = health(order_stream="down", order_updates=7, order_updates_recovered=2)
    assert orders_down.status == "ORDERS_DOWN"
    assert "orders stream down (7 updates, 2 recovered)" in orders_down.line()


def test_a_missed_resume_is_seen_in_the_market_itself() -> None:
    """Providers replay no status sent while the feed was away. A halted symbol printing a bar of a
    later minute trades again; after a session starts, each symbol's first printed bar says so."""
    out: list[BarUpdate] = []
    statuses: list[TradingStatus] = []
    pipeline = FeedPipeline(NoHistory(), [out.append], statuses=[statuses.append], measure_lag=False, symbols=["SPY"])

    def minute(i: int, volume: int = 100, source: BarSource = BarSource.PROVIDER) -> BarUpdate:
        return BarUpdate(Bar("SPY", T0 + timedelta(minutes=i), 1, 1, 1, 1, volume), source)

    pipeline.on_event(minute(0))
    pipeline.on_event(TradingStatus("SPY", True, T0 + timedelta(minutes=1, seconds=20), "T12", "halt"))
    pipeline.on_event(minute(1))  # the halt's own minute: printed before it
    assert [s.halted for s in statuses] == [True]
    pipeline.on_event(minute(5, volume=0))  # nothing traded: no evidence
    pipeline.on_event(minute(6))  # trades again, and no resume came: it is resumed here
    assert [s.halted for s in statuses] == [True, False]
    assert "resume was not received" in statuses[-1].reason
    pipeline.on_event(minute(7))
    assert len(statuses) == 2, "said once"
    # a (re)connect: the first printed bar re-states the symbol's status; backfilled bars do not count
    pipeline.on_event(Control("session", "logged in and subscribed"))
    pipeline.on_event(BarUpdate(Bar("SPY", T0 + timedelta(minutes=8), 1, 1, 1, 1, 100), BarSource.BACKFILL))
    assert len(statuses) == 2
    pipeline.on_event(minute(9))
    assert [s.halted for s in statuses] == [True, False, False]
    assert "(re)connected" in statuses[-1].reason
    assert pipeline.resumes_seen == 2
