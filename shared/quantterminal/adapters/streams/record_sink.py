"""Bar and order updates onto a record stream -- Kinesis in AWS, the local bus on a laptop.

Records are encoded with the versioned codecs of ``core.feed_codec`` and written in the background
by a ``BatchWorker`` (each request takes what queued during the last one). Partition keys keep
what must stay in order together: bars by symbol, order updates by client order id.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar

from quantterminal.adapters.streams.batching import BatchWorker
from quantterminal.core.accounting.orders import OrderUpdate
from quantterminal.core.market_data.feed_events import BarUpdate
from quantterminal.core.trading.feed_codec import FeedRecord, encode_feed_record, encode_order_update

T = TypeVar("T")


class RecordStream(Protocol):
    """Where records go: ``KinesisSink`` or a ``BusStream``."""

    def put(self, records: Sequence[tuple[str, bytes]]) -> int: ...


class RecordSink(Generic[T]):
    """A plain callable taking updates and putting them on ``stream`` as records."""

    def __init__(
        self,
        stream: RecordStream,
        key: Callable[[T], str],
        encode: Callable[[T], bytes],
        name: str,
        max_batch: int = 500,
    ) -> None:
        self.stream = stream
        self._key, self._encode = key, encode
        self.worker: BatchWorker[T] = BatchWorker(self._write, name, max_batch)

    def __call__(self, item: T) -> None:
        self.worker.submit(item)

    def _write(self, items: list[T]) -> None:
        self.stream.put([(self._key(i), self._encode(i)) for i in items])

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until everything taken so far is on the stream."""
        return self.worker.drain(timeout)

    def close(self, timeout: float = 30.0) -> bool:
        """Put what is left, then stop."""
        return self.worker.close(timeout)


def bar_records(stream: RecordStream) -> RecordSink[FeedRecord]:
    """Bar updates and trading statuses (halts, resumptions) onto the "bars" stream, keyed by
    symbol: a halt stays in order with the bars around it."""
    return RecordSink(stream, _symbol, encode_feed_record, "bars")


def _symbol(item: FeedRecord) -> str:
    return item.bar.symbol if isinstance(item, BarUpdate) else item.symbol


def order_records(stream: RecordStream) -> RecordSink[OrderUpdate]:
    """Broker order updates (trade_updates) onto the "orders" stream, keyed by client order id."""
    return RecordSink(stream, lambda u: u.client_order_id, encode_order_update, "orders")
