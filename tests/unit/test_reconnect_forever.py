"""A stream down for days keeps trying: 10,000 failed connects and 10,000 refusals in a row, on a
fake clock (the injected ``sleep`` counts the waits and stops the run), leave the reconnect loop
alive with every wait capped and jittered. Before, the doubling overflowed a float at attempt
1,024 -- some 4-8 hours into an outage -- and the reader thread died."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import websocket

from quantterminal.adapters.market_data.feed_connection import FeedConnection, FeedSettings
from quantterminal.adapters.retry import backoff_delay, capped_exponential, patient_delay
from quantterminal.adapters.websocket_keepalive import Refused

ATTEMPTS = 10_000


class ClosedSocket:
    def close(self) -> None:
        pass


def run_until_waited(connection: FeedConnection, times: int) -> list[float]:
    """``connection.run`` on the caller's thread until it has waited ``times`` times."""
    stop = threading.Event()
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) >= times:
            stop.set()

    connection.sleep = sleep
    connection.run(stop)  # returns (rather than raise) once stopped
    return waits


def test_failed_connects_back_off_to_the_cap_forever(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused_by_the_network(*args: Any, **kwargs: Any) -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(websocket, "create_connection", refused_by_the_network)
    settings = FeedSettings("ws://127.0.0.1:9", "k", "s", bars=("SPY",), backoff_base=0.5, backoff_cap=30.0)
    connection = FeedConnection(settings, lambda event: None)
    waits = run_until_waited(connection, ATTEMPTS)
    assert len(waits) == ATTEMPTS
    assert all(0.0 <= w <= 30.0 for w in waits)
    assert len({round(w, 6) for w in waits[-100:]}) > 90, "still jittered after thousands of attempts"
    assert connection.stats.reconnects == ATTEMPTS - 1  # (the last failure was the stop)


def test_refusals_back_off_long_forever(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(websocket, "create_connection", lambda *a, **k: ClosedSocket())

    def refuse(self: FeedConnection, ws: object) -> None:
        raise Refused("auth failed (401)")

    monkeypatch.setattr(FeedConnection, "_handshake", refuse)
    alerts: list[str] = []
    settings = FeedSettings("ws://127.0.0.1:9", "k", "s", bars=("SPY",), refusal_backoff=60.0, refusal_cap=900.0)
    connection = FeedConnection(settings, lambda event: None, alert=alerts.append)
    waits = run_until_waited(connection, ATTEMPTS)
    assert len(waits) == ATTEMPTS == connection.stats.refusals
    assert all(450.0 <= w <= 900.0 for w in waits[4:])  # capped, and never early
    assert len(alerts) == ATTEMPTS


@pytest.mark.parametrize("attempt", [0, 1, 63, 1_023, 1_024, 10_000, 10**9])
def test_the_delays_are_defined_for_any_attempt(attempt: int) -> None:
    assert capped_exponential(attempt, 0.5, 30.0) <= 30.0
    assert 0.0 <= backoff_delay(attempt, 0.5, 30.0) <= 30.0
    assert 450.0 <= patient_delay(attempt, 60.0, 900.0) <= 900.0 or attempt < 4
