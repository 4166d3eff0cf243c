"""The failed-batches redrive composed: the FailedBatches queue's pointers followed to their Kinesis
records, shown or fed again to a function, each pointer deleted once its batch succeeded."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from quantterminal.adapters.aws import clients as aws
from quantterminal.adapters.streams.redrive import lambda_invoker, pending, read_batch, rerun
from quantterminal.errors import RedriveError


@dataclass(frozen=True)
class BatchOutcome:
    """What became of one pointer: its records (shown), the ones that failed again, or why it
    could not be followed; ``deleted`` once the batch was re-run in full."""

    head: str  # stream, shard and sequence range
    reason: str
    records: list[dict[str, Any]] = field(default_factory=list)
    failed_again: list[str] = field(default_factory=list)
    error: str | None = None
    deleted: bool = False


def failed_batches(queue: str, rerun_with: str | None, limit: int) -> Iterator[BatchOutcome]:
    """Each pointer in ``queue`` (at most ``limit``): with ``rerun_with`` (a function name or ARN)
    its batch is invoked again and the pointer deleted when it succeeds, else its records are read.
    AWS credentials and region from the usual environment."""
    sqs, kinesis = aws.client("sqs"), aws.client("kinesis")
    region = sqs.meta.region_name
    invoke = lambda_invoker(rerun_with) if rerun_with else None
    for batch in pending(queue, sqs, limit):
        head = f"{batch.stream_name} {batch.shard_id} {batch.first_sequence}..{batch.last_sequence}"
        reason = batch.reason or "failed"
        try:
            if invoke is None:
                yield BatchOutcome(head, reason, records=read_batch(batch, kinesis))
                continue
            still = rerun(batch, kinesis, invoke, region)
        except RedriveError as exc:
            yield BatchOutcome(head, reason, error=str(exc))
            continue
        if not still:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=batch.receipt_handle)
        yield BatchOutcome(head, reason, failed_again=list(still), deleted=not still)
