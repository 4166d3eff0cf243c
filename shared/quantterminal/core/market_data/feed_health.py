"""The market data feed's health report: what ``qterm feed`` prints, the logs carry and CloudWatch
graphs -- one plain value, computed by the feed process."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class FeedHealth:
    """One health report: rates over the last interval, counters since start."""

    messages_per_s: float
    bars_per_min: float
    lag_p50_ms: float | None  # exchange time (bar end) -> emitted, over the last interval
    lag_p99_ms: float | None
    messages: int
    bars: int
    reconnects: int
    silences: int
    refusals: int
    gaps: int
    backfilled: int
    unfilled: int
    revisions: int
    malformed: int
    late_trades: int
    last_bar: str | None
    stale: bool = False  # the market is open and no bar has come out for ``STALE_AFTER``
    late: int = 0  # minutes that came after later ones of their symbol: stored, never traded
    dropped_future: int = 0  # bars and trades dated beyond the clock (plus tolerance)
    dropped_unsubscribed: int = 0  # events for symbols not subscribed
    errors: int = 0
    reader_alive: bool = True
    order_stream: str | None = None  # the account's trade_updates stream: up, down, refused (None: not run here)
    order_updates: int = 0  # delivered by that stream
    order_updates_recovered: int = 0  # found only by its REST catch-up (missed while down or mute)
    outages: str | None = None  # the trading side's service outages, where it runs beside the feed (qterm paper)

    @property
    def status(self) -> str:
        if not self.reader_alive:
            return "DEAD"
        if self.refusals and not self.messages:
            return "REFUSED"
        if self.stale:
            return "STALE"
        if self.order_stream not in (None, "up"):
            return "ORDERS_" + self.order_stream.upper()
        return "ok" if self.unfilled == 0 else "degraded"

    def line(self) -> str:
        """The one-line health summary ``qterm feed`` prints."""
        lag = "-" if self.lag_p50_ms is None else f"{self.lag_p50_ms:,.0f}/{self.lag_p99_ms:,.0f} ms"
        return (
            f"feed {self.status} | {self.messages_per_s:,.0f} msg/s | bars {self.bars:,} "
            f"(last {self.last_bar or '-'}) | lag p50/p99 {lag} | reconnects {self.reconnects} "
            f"| gaps {self.gaps} (backfilled {self.backfilled}, unfilled {self.unfilled}) "
            f"| revisions {self.revisions} | malformed {self.malformed} "
            f"| late {self.late} (stored, not traded) | dropped {self.dropped_future} future, "
            f"{self.dropped_unsubscribed} unsubscribed"
            + (
                ""
                if self.order_stream is None
                else f" | orders stream {self.order_stream} ({self.order_updates} updates, "
                f"{self.order_updates_recovered} recovered)"
            )
            + ("" if self.outages is None else f" | outages: {self.outages}")
        )

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "status": self.status}
