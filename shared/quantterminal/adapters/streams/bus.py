"""The local in-process bus: the laptop's stand-in for the Kinesis "bars" and "orders" streams.

Producers ``put`` the same ``(partition key, data)`` records they would send to Kinesis (so the
consumers decode exactly what a Lambda would receive); every subscriber of a stream gets every
record put after it subscribed, in the order put.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence

Record = tuple[str, bytes]


class BusStream:
    """One named stream of the bus; ``put`` has the signature of ``KinesisSink.put``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._subscribers: list[queue.Queue[Record]] = []
        self._lock = threading.Lock()
        self.records = 0

    def put(self, records: Sequence[Record]) -> int:
        """Deliver ``records`` to every subscriber; returns 1 (one "request")."""
        with self._lock:
            for record in records:
                for subscriber in self._subscribers:
                    subscriber.put(record)
            self.records += len(records)
        return 1

    def subscribe(self) -> queue.Queue[Record]:
        """A queue that receives every record put from now on."""
        subscriber: queue.Queue[Record] = queue.Queue()
        with self._lock:
            self._subscribers.append(subscriber)
        return subscriber


class LocalBus:
    """Named streams, created on first use."""

    def __init__(self) -> None:
        self._streams: dict[str, BusStream] = {}
        self._lock = threading.Lock()

    def stream(self, name: str) -> BusStream:
        with self._lock:
            return self._streams.setdefault(name, BusStream(name))
