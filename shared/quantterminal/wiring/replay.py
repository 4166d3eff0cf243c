"""``qterm replay-server`` composed: real bars from a data source served over a websocket in the
Alpaca or Polygon protocol, with the faults a real feed shows (``Chaos``)."""

from __future__ import annotations

from collections.abc import Sequence

from quantterminal.adapters.replay.replay_server import Chaos, ReplayServer
from quantterminal.core.models import Bar
from quantterminal.wiring.data_files import read_bars

__all__ = ["Chaos", "open_replay_server"]


def open_replay_server(
    data: str, regular_hours_only: bool, port: int, speed: float, chaos: Chaos, protocol: str
) -> tuple[ReplayServer, dict[str, Sequence[Bar]]]:
    """A server (not yet started: enter it) replaying the bars of ``data``, and those bars."""
    bars, _ = read_bars(data, regular_hours_only=regular_hours_only)
    server = ReplayServer(
        [b for series in bars.values() for b in series], port=port, speed=speed, chaos=chaos, protocol=protocol
    )
    return server, bars
