"""Provider message normalisers against every recorded fixture frame, and bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from quantterminal.adapters.market_data import alpaca_data, polygon_data
from quantterminal.core.market_data.feed_events import (
    BarSource,
    BarUpdate,
    Control,
    TradeCancel,
    TradeCorrection,
    TradingStatus,
)
from quantterminal.core.models import Bar, Quote, Trade
from quantterminal.core.trading.feed_codec import (
    RecordError,
    decode_feed_record,
    encode_feed_record,
    encode_trading_status,
)

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
needs_fixtures = pytest.mark.skipif(not FIXTURES.exists(), reason="shared/fixtures not beside the checkout")


def frames(name: str) -> dict[str, Any]:
    return {m["name"]: m for m in json.loads((FIXTURES / name).read_text())["messages"]}


ALPACA_EXPECTED = {
    "trade": Trade,
    "trades_batched": Trade,
    "quote": Quote,
    "quotes_batched": Quote,
    "minute_bar": BarUpdate,
    "minute_bar_legacy_no_n_vw": BarUpdate,
    "updated_bar": BarUpdate,
    "daily_bar": BarUpdate,
    "trade_correction": TradeCorrection,
    "trade_cancel": TradeCancel,
    "trading_status_halt": TradingStatus,
    "authenticated": Control,
    "welcome": Control,
    "subscription_ack": Control,
}


@needs_fixtures
def test_every_alpaca_server_message_kind_is_understood() -> None:
    messages = frames("alpaca_market_data_ws.json")
    for name, expected in ALPACA_EXPECTED.items():
        parsed = alpaca_data.parse_frame(json.dumps(messages[name]["frame"]))
        assert parsed.malformed == (), name
        assert parsed.events, name
        assert all(isinstance(e, expected) for e in parsed.events), name
    for name, message in messages.items():
        if name.startswith("error_"):
            (control,) = alpaca_data.parse_frame(json.dumps(message["frame"])).events
            assert isinstance(control, Control)
            assert control.code == message["frame"][0]["code"]
    limit = alpaca_data.parse_frame(json.dumps(messages["error_406_connection_limit_exceeded"]["frame"])).events[0]
    assert isinstance(limit, Control)
    assert limit.kind == "connection_limit"
    auth = alpaca_data.parse_frame(json.dumps(messages["error_402_auth_failed"]["frame"])).events[0]
    assert isinstance(auth, Control)
    assert auth.kind == "auth_failed"


@needs_fixtures
def test_alpaca_values_are_read_as_documented() -> None:
    messages = frames("alpaca_market_data_ws.json")
    (trade,) = alpaca_data.parse_frame(json.dumps(messages["trade"]["frame"])).events
    assert trade == Trade(
        "AAPL", datetime(2021, 2, 22, 15, 51, 44, 208000, tzinfo=UTC), 126.55, 1, "96921", "D", ("@", "I")
    )
    (bar,) = alpaca_data.parse_frame(json.dumps(messages["minute_bar"]["frame"])).events
    assert isinstance(bar, BarUpdate)
    assert (bar.source, bar.bar.timestamp, bar.bar.trade_count, bar.bar.vwap) == (
        BarSource.PROVIDER,
        datetime(2021, 2, 22, 19, 15, tzinfo=UTC),
        461,
        389.062639,
    )
    (revision,) = alpaca_data.parse_frame(json.dumps(messages["updated_bar"]["frame"])).events
    assert isinstance(revision, BarUpdate)
    assert revision.source is BarSource.REVISION


@needs_fixtures
def test_trading_halts_and_resumptions_are_read_as_alpaca_and_polygon_document_them() -> None:
    """Alpaca "s" messages: UTP "H" halts, "T" resumes (CTA "2"/"3", volatility pause "P"); other
    statuses (imbalances, quote resumption "Q") are informational. Polygon/Massive LULD events:
    indicator 17 halts and 18 resumes; band updates alone are skipped."""
    messages = frames("alpaca_market_data_ws.json")
    (halt,) = alpaca_data.parse_frame(json.dumps(messages["trading_status_halt"]["frame"])).events
    assert halt == TradingStatus(
        "AAPL",
        True,
        datetime(2021, 2, 22, 19, 15, tzinfo=UTC),
        "H",
        "Trading Halt (T12: Trading Halted; For information requested by NASDAQ)",
    )
    resume = dict(messages["trading_status_resume"]["frame"][0], t="2021-02-22T19:45:00Z")
    (resumed,) = alpaca_data.parse_frame(json.dumps([resume])).events
    assert isinstance(resumed, TradingStatus)
    assert (resumed.symbol, resumed.halted, resumed.code) == ("STRR", False, "T")
    for code, halted in (("2", True), ("P", True), ("3", False)):
        (event,) = alpaca_data.parse_frame(json.dumps([dict(resume, sc=code)])).events
        assert isinstance(event, TradingStatus)
        assert event.halted is halted
    for code in ("Q", "7", "E"):
        (event,) = alpaca_data.parse_frame(json.dumps([dict(resume, sc=code)])).events
        assert isinstance(event, Control), code
    assert alpaca_data.parse_frame(json.dumps(messages["luld"]["frame"])).events == ()
    luld = frames("polygon_stocks_ws.json")["luld"]["frame"][0]
    assert polygon_data.parse_frame(json.dumps([luld])).events == ()  # a band update, no halt
    (paused,) = polygon_data.parse_frame(json.dumps([dict(luld, i=[17])])).events
    (again,) = polygon_data.parse_frame(json.dumps([dict(luld, i=[18])])).events
    assert isinstance(paused, TradingStatus)
    assert isinstance(again, TradingStatus)
    assert (paused.symbol, paused.halted, again.halted) == ("MSFT", True, False)
    assert paused.timestamp == datetime(2020, 9, 28, 18, 12, 32, 683746, tzinfo=UTC)  # 16 digits: µs


def test_a_trading_status_record_round_trips_beside_the_bars() -> None:
    status = TradingStatus("SPY", True, datetime(2026, 3, 2, 15, 4, tzinfo=UTC), "H", "Trading Halt")
    assert decode_feed_record(encode_trading_status(status)) == status
    bar = BarUpdate(Bar("SPY", datetime(2026, 3, 2, 15, 4, tzinfo=UTC), 1.0, 1.0, 1.0, 1.0, 10), BarSource.PROVIDER)
    assert decode_feed_record(encode_feed_record(bar)) == bar
    with pytest.raises(RecordError):
        decode_feed_record(b'{"v":1,"kind":"status","S":"SPY","t":"2026-03-02T15:04:00+00:00","halted":"yes"}')


@needs_fixtures
def test_every_polygon_message_kind_is_understood() -> None:
    messages = frames("polygon_stocks_ws.json")
    expected = {
        "trade": Trade,
        "trade_no_conditions": Trade,
        "trades_batched": Trade,
        "quote": Quote,
        "aggregate_per_minute": BarUpdate,
        "connected": Control,
        "auth_success": Control,
        "auth_failed": Control,
        "max_connections": Control,
        "subscribed_ack": Control,
    }
    for name, kind in expected.items():
        parsed = polygon_data.parse_frame(json.dumps(messages[name]["frame"]))
        assert parsed.malformed == (), name
        assert all(isinstance(e, kind) for e in parsed.events), name
    (trade,) = polygon_data.parse_frame(json.dumps(messages["trade"]["frame"])).events
    assert trade == Trade(
        "MSFT", datetime(2018, 9, 4, 4, 53, 38, 784000, tzinfo=UTC), 114.125, 100, "12345", "4", ("0", "12")
    )
    (bar,) = polygon_data.parse_frame(json.dumps(messages["aggregate_per_minute"]["frame"])).events
    assert isinstance(bar, BarUpdate)
    assert bar.bar.timestamp == datetime(2021, 1, 8, 22, 24, tzinfo=UTC)  # window start
    mixed = polygon_data.parse_frame(json.dumps(messages["mixed_trade_and_quote_frame"]["frame"]))
    assert [type(e) for e in mixed.events] == [Trade, Quote]
    assert polygon_data.parse_frame(json.dumps(messages["aggregate_per_second"]["frame"])).events == ()
    kinds = {
        n: polygon_data.parse_frame(json.dumps(messages[n]["frame"])).events[0].kind  # type: ignore[union-attr]
        for n in ("auth_success", "auth_failed", "max_connections")
    }
    assert kinds == {
        "auth_success": "authenticated",
        "auth_failed": "auth_failed",
        "max_connections": "connection_limit",
    }


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("not json at all", "frame is not JSON"),
        ('{"T": "t"', "frame is not JSON"),
        ("42", "not a JSON array"),
        ("[17]", "not a JSON object"),
        ('[{"T": "zz"}]', "unknown message type 'zz'"),
        ('[{"T": "t", "S": "AAPL", "i": 1, "p": 1.0, "s": 1}]', "missing field 't'"),
        ('[{"T": "t", "S": "AAPL", "i": 1, "p": NaN, "s": 1, "t": "2021-02-22T15:51:44Z"}]', "price is nan"),
        ('[{"T": "t", "S": "AAPL", "i": 1, "p": -1, "s": 1, "t": "2021-02-22T15:51:44Z"}]', "not positive"),
        ('[{"T": "t", "S": "AAPL", "i": 1, "p": 1, "s": -5, "t": "2021-02-22T15:51:44Z"}]', "size -5"),
        ('[{"T": "b", "S": "X", "o": 2, "h": 1, "l": 1, "c": 1, "v": 1, "t": "2021-02-22T15:51:00Z"}]', "outside"),
        ('[{"T": "t", "S": "AAPL", "i": 1, "p": 1, "s": 1, "t": 12345}]', "is not a string"),
    ],
)
def test_bad_alpaca_messages_are_reported_and_never_raise(frame: str, reason: str) -> None:
    parsed = alpaca_data.parse_frame(frame)
    assert parsed.events == ()
    (bad,) = parsed.malformed
    assert reason in bad.reason
    assert len(bad.sample) <= 200


def test_one_bad_message_does_not_lose_the_rest_of_its_frame() -> None:
    good = {"T": "t", "S": "AAPL", "i": 7, "x": "V", "p": 126.5, "s": 10, "t": "2021-02-22T15:51:44.1Z"}
    frame = json.dumps([good, {"T": "t", "S": "AAPL"}, {**good, "i": 8}])
    parsed = alpaca_data.parse_frame(frame)
    assert [e.trade_id for e in parsed.events] == ["7", "8"]  # type: ignore[union-attr]
    assert len(parsed.malformed) == 1
    polygon = polygon_data.parse_frame(
        '[{"ev": "T", "sym": "A", "i": "1", "p": 1.5, "s": 1, "t": "soon"}, {"ev": "??"}]'
    )
    assert polygon.events == ()
    assert [m.reason for m in polygon.malformed] == [
        "'T' message: timestamp 'soon' is not integer milliseconds",
        "'??' message: unknown event type '??'",
    ]


ALPACA_BAR = {"T": "b", "S": "SPY", "t": "2024-03-04T14:30:00Z", "o": 1.0, "h": 2.0, "l": 0.5, "c": 1.5, "v": 100}
POLYGON_BAR = {"ev": "AM", "sym": "SPY", "s": 1709562600000, "e": 1709562660000, "o": 1.0, "h": 2.0, "l": 0.5}


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"t": "2024-03-04T14:30:00"}, "no time zone"),
        ({"o": "1.0"}, "not a number"),
        ({"h": True}, "not a number"),
        ({"v": 10.5}, "not a whole number"),
        ({"v": "100"}, "not a number"),
        ({"v": 2**70}, "beyond any real volume"),
        ({"n": 1.5}, "not a whole number"),
    ],
)
def test_alpaca_values_are_strict_never_coerced(change: dict[str, object], why: str) -> None:
    parsed = alpaca_data.parse_frame(json.dumps([{**ALPACA_BAR, **change}, ALPACA_BAR]))
    assert len(parsed.events) == 1, "the rest of the frame is kept"
    (bad,) = parsed.malformed
    assert why in bad.reason


@pytest.mark.parametrize(
    ("change", "why"),
    [({"o": "1.0"}, "not a number"), ({"v": False}, "not a number"), ({"v": 3.25}, "not a whole number")],
)
def test_polygon_values_are_strict_never_coerced(change: dict[str, object], why: str) -> None:
    message = {**POLYGON_BAR, "c": 1.5, "v": 100, **change}
    parsed = polygon_data.parse_frame(json.dumps([message]))
    assert parsed.events == ()
    assert why in parsed.malformed[0].reason


def test_a_frame_nested_beyond_the_parsers_recursion_is_one_malformed_entry() -> None:
    parsed = alpaca_data.parse_frame("[" * 100_000 + "]" * 100_000)
    assert [m.reason for m in parsed.malformed] == ["frame is nested too deeply"]
