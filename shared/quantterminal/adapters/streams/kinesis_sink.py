"""Put records on a Kinesis stream with PutRecords, keeping each partition key in order.

Batches respect Kinesis' limits (500 records, 5 MiB per request; 1 MiB per record). Records that
fail inside an accepted request (throttling, internal errors) are retried with backoff, in their
original order. Because a retried record would land *after* a later record of the same key that
succeeded, a request never carries two records of one partition key: a key's next record goes in
the next request, sent only once the previous one has fully succeeded. With the partition key =
symbol, each symbol's bars reach the consumer in order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from quantterminal.adapters.aws import clients as aws
from quantterminal.adapters.retry import backoff_delay

MAX_RECORDS = 500
MAX_REQUEST_BYTES = 5 * 1024 * 1024
MAX_RECORD_BYTES = 1024 * 1024


class KinesisPutError(RuntimeError):
    """Records that still failed after every retry; nothing after them was sent."""


class KinesisSink:
    """Writes ``(partition key, data)`` records to one stream."""

    def __init__(
        self,
        stream_name: str,
        client: Any | None = None,
        attempts: int = 6,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.stream_name = stream_name
        self.client = client or aws.client("kinesis")
        self.attempts = attempts
        self._sleep = sleep
        self.retried_records = 0

    def put(self, records: Sequence[tuple[str, bytes]]) -> int:
        """Send ``records`` (in order per key); return how many PutRecords requests it took."""
        for key, data in records:
            if len(data) + len(key.encode()) > MAX_RECORD_BYTES:
                raise ValueError(f"record for {key!r} is {len(data)} bytes; Kinesis takes at most 1 MiB")
        requests = 0
        pending = list(records)
        while pending:
            batch, pending = self._next_batch(pending)
            self._put_batch(batch)
            requests += 1
        return requests

    @staticmethod
    def _next_batch(records: list[tuple[str, bytes]]) -> tuple[list[tuple[str, bytes]], list[tuple[str, bytes]]]:
        batch: list[tuple[str, bytes]] = []
        rest: list[tuple[str, bytes]] = []
        keys: set[str] = set()
        waiting: set[str] = set()  # keys with a record held back: their later records wait too
        size = 0
        for record in records:
            key, data = record
            record_size = len(data) + len(key.encode())
            if key in keys or key in waiting or len(batch) == MAX_RECORDS or size + record_size > MAX_REQUEST_BYTES:
                rest.append(record)  # keeps every key's records in their original order
                waiting.add(key)
                continue
            batch.append(record)
            keys.add(key)
            size += record_size
        return batch, rest

    def _put_batch(self, batch: list[tuple[str, bytes]]) -> None:
        pending = batch
        for attempt in range(self.attempts):
            response = self.client.put_records(
                StreamName=self.stream_name,
                Records=[{"PartitionKey": key, "Data": data} for key, data in pending],
            )
            if not response.get("FailedRecordCount"):
                return
            pending = [
                record for record, result in zip(pending, response["Records"], strict=True) if "ErrorCode" in result
            ]
            self.retried_records += len(pending)
            self._sleep(backoff_delay(attempt, base=0.05, cap=2.0))
        keys = ", ".join(sorted({key for key, _ in pending}))
        raise KinesisPutError(f"{len(pending)} record(s) for {keys} still failing after {self.attempts} attempts")
