"""Bar handler: Kinesis "bars" -> every strategy -> risk -> order placement -> state saved, then
the symbol's limit orders older than the cancel age are canceled (the kernel's ``step``, as in
the backtest and the local paper run). A trading status record (an exchange halt or resumption)
between the bars marks the symbol halted or trading in the risk state.

The handler works to the function's timeout: a broker call that could not finish before it is not
started, and its record fails like any other (and comes again).

Records are processed in order. A record that fails (a poison record, the broker down) is reported
as a batch item failure, and so is every later record of *its* symbol in the batch, so each
symbol's bars are decided in order; other symbols go on. Redelivery is harmless: strategies
remember the last bar they consumed and client order ids are deterministic.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord

from lambdas.observability import KINESIS_BATCH, logger, metrics, tracer
from lambdas.wiring import runtime
from quantterminal import constants as c
from quantterminal.core.market_data.feed_events import TradingStatus
from quantterminal.core.reporting.queries import HEALTH, PIPELINE, heartbeat
from quantterminal.core.trading.decision import BROKER_REJECTED
from quantterminal.core.trading.feed_codec import decode_feed_record

processor = BatchProcessor(event_type=EventType.KinesisDataStreams)
FINISHING_SECONDS = 3.0  # kept back from the timeout: state writes and the heartbeat after the last call


class SymbolBlocked(Exception):  # noqa: N818 - a deliberate hold, not a bug
    """An earlier record of this symbol failed in this batch; this one waits to keep the order."""


def handle_record(record: KinesisStreamRecord, blocked: set[str], done: list[tuple[datetime, datetime]]) -> None:
    """Decide on one bar record (raises to report the record as failed); ``done`` collects
    (bar time, arrival time) of the records decided."""
    symbol = record.kinesis.partition_key
    if symbol in blocked:
        raise SymbolBlocked(symbol)
    try:
        update = decode_feed_record(record.kinesis.data_as_bytes())
        if isinstance(update, TradingStatus):  # an exchange halt or resumption of this symbol
            runtime().desk.on_trading_status(update)
            logger.warning("trading status", extra={"symbol": update.symbol, "halted": update.halted})
            return
        started = time.perf_counter()
        outcome = runtime().desk.step(update, datetime.now(UTC))
    except Exception:
        blocked.add(symbol)
        raise
    done.append((update.bar.timestamp, datetime.fromtimestamp(record.kinesis.approximate_arrival_timestamp, UTC)))
    metrics.add_metric(name=c.METRIC_BARS_PROCESSED, unit=MetricUnit.Count, value=1)
    metrics.add_metric(
        name=c.METRIC_DECISION_LATENCY, unit=MetricUnit.Milliseconds, value=(time.perf_counter() - started) * 1000
    )
    for strategy, decision in outcome.decisions.items():
        if decision.placed is not None:
            metrics.add_metric(name=c.METRIC_ORDERS_PLACED, unit=MetricUnit.Count, value=1)
            logger.info(
                "order placed", extra={"strategy": strategy, "client_order_id": decision.placed.client_order_id}
            )
        if decision.risk is not None and decision.risk.alerts:
            metrics.add_metric(name=c.METRIC_RISK_ALERTS, unit=MetricUnit.Count, value=len(decision.risk.alerts))
            logger.error("risk alert", extra={"strategy": strategy, "alerts": list(decision.risk.alerts)})
        if decision.placed is None and decision.note.startswith(BROKER_REJECTED):
            metrics.add_metric(name=c.METRIC_ORDERS_REFUSED_BY_BROKER, unit=MetricUnit.Count, value=1)
            logger.error("order refused by the broker", extra={"strategy": strategy, "reason": decision.note})
        if decision.placed is None and decision.risk is not None and not decision.risk.accepted:
            metrics.add_metric(name=c.METRIC_ORDERS_REJECTED, unit=MetricUnit.Count, value=1)
            logger.warning(
                "order rejected", extra={"strategy": strategy, "rule": decision.risk.rule, "reason": decision.note}
            )


@logger.inject_lambda_context(correlation_id_path=KINESIS_BATCH)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    # Work to the function's timeout: a broker call that could not finish in time is not started,
    # and its record fails and comes again (after the heartbeat is saved, below)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    runtime().work_until(None if remaining is None else remaining() / 1000 - FINISHING_SECONDS)
    blocked: set[str] = set()
    done: list[tuple[datetime, datetime]] = []
    response = process_partial_response(
        event=event,
        record_handler=lambda record: handle_record(record, blocked, done),
        processor=processor,
        context=context,
    )
    if done:  # the heartbeat GET /health shows: the last bar decided and how long it waited in the stream
        bar_time, arrived = max(done)
        runtime().store.save_snapshot(PIPELINE, HEALTH, heartbeat(bar_time, datetime.now(UTC), arrived))
    return response
