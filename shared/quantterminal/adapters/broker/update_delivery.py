"""How the simulated broker's order updates leave it: late, twice, out of order, and never lost.

Each update gets a due time (its own time; with ``chaos`` plus a random delay, and now and then a
second copy), and is delivered when simulated time reaches it, in due order. Updates handed to the
handler stay in the outbox until the books confirm them (``confirm``): a restarted broker delivers
them again, and booking is idempotent, so none is lost between the broker and the books.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from quantterminal.adapters.broker.simulated_account import SimulatorConfig
from quantterminal.core.accounting.orders import OrderUpdate


@dataclass(order=True)
class _Queued:
    due: datetime
    seq: int  # the order of updates due at the same instant
    update: OrderUpdate = field(compare=False)


class UpdateDelivery:
    """The queue of updates not yet due and the outbox of those delivered but not confirmed."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)
        self._queue: list[_Queued] = []
        self.outbox: list[OrderUpdate] = []
        self.seq = 0

    def __bool__(self) -> bool:
        """True while an update waits to be due."""
        return bool(self._queue)

    def emit(self, update: OrderUpdate) -> None:
        copies = 2 if self.config.chaos and self._rng.random() < self.config.duplicate_rate else 1
        for _ in range(copies):
            due = update.timestamp
            if self.config.chaos:
                due += timedelta(seconds=self._rng.uniform(0, self.config.max_delay.total_seconds()))
            self.seq += 1
            self._queue.append(_Queued(due, self.seq, update))

    def take_due(self, now: datetime, delivering: bool) -> list[OrderUpdate]:
        """The updates due at ``now``, in due order, out of the queue; when ``delivering`` (a
        handler waits for them) they join the outbox until confirmed."""
        self._queue.sort()
        due = [q.update for q in self._queue if q.due <= now]
        self._queue = [q for q in self._queue if q.due > now]
        if delivering:
            self.outbox.extend(due)
        return due

    def last_due(self) -> datetime | None:
        return max((q.due for q in self._queue), default=None)

    def confirm(self) -> bool:
        """Every update delivered so far is booked: forget them. True if there were any."""
        had = bool(self.outbox)
        self.outbox = []
        return had

    def saved(self) -> tuple[list[tuple[datetime, int, OrderUpdate]], list[OrderUpdate], int]:
        """What a restart needs: the queue (due, seq, update), the outbox, the sequence."""
        return [(q.due, q.seq, q.update) for q in self._queue], list(self.outbox), self.seq

    def restore(
        self, queued: list[tuple[datetime, int, OrderUpdate]], outbox: list[OrderUpdate], seq: int, now: datetime
    ) -> None:
        """Carry on from ``saved``: the queue as it was, and the unconfirmed updates due at once."""
        self.seq = seq
        self._queue = [_Queued(due, s, update) for due, s, update in queued]
        for update in outbox:
            self.seq += 1
            self._queue.append(_Queued(now, self.seq, update))
