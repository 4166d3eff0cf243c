"""What a broker call may spend: the time left before the function's deadline, and Alpaca's
request budget for account reads.

- ``Deadline``: a Lambda is killed at its timeout, mid-call. The bar handler sets the deadline from
  its context; a call that could not finish before it (its timeout, plus any wait for a rate
  limit) is not started: ``OutOfTime`` fails the record, and Kinesis delivers it again to a
  function with time to finish it (the kernel's work is idempotent).
- ``AccountReads``: Alpaca allows 200 requests a minute per account; reading the account for every
  fresh bar spends that alone at ~150 symbols. The account is read at most once per interval; in
  between, its cash and buying power move by the fills executed since the read (the ledger has
  them as the order-events function books them), so sizing and risk see every fill at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from quantterminal.core.models import Fill
from quantterminal.core.trading.broker import BrokerAccount

ACCOUNT_READ_EVERY = 60.0  # seconds


class OutOfTime(Exception):  # noqa: N818 - the function's budget, not a failure of the broker
    """A call was not started: it could not finish before the function's deadline."""


class Deadline:
    """The monotonic time by which the current invocation must be done (``None``: no limit)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.at: float | None = None
        self.clock = clock

    def set(self, seconds_left: float | None) -> None:
        """From now, ``seconds_left`` to go (``None``: no deadline)."""
        self.at = None if seconds_left is None else self.clock() + seconds_left

    def check(self, what: str, needs: float) -> None:
        """``OutOfTime`` unless ``needs`` seconds fit before the deadline."""
        if self.at is None:
            return
        left = self.at - self.clock()
        if needs > left:
            raise OutOfTime(f"{what}: {left:.1f} s left before the deadline, the call may take {needs:.1f} s")


class AccountReads:
    """The account read at most every ``every`` seconds, kept current by the fills since."""

    def __init__(
        self,
        read: Callable[[], BrokerAccount],
        every: float = ACCOUNT_READ_EVERY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.read = read
        self.every = every
        self.clock = clock
        # the fills executed since a time (the ledger's); None: the account is read every time
        self.fills_since: Callable[[datetime], Sequence[Fill]] | None = None
        self.reads = 0
        self._last: BrokerAccount | None = None
        self._read_at = 0.0

    def account(self) -> BrokerAccount:
        now = self.clock()
        if self.fills_since is None or self._last is None or now - self._read_at >= self.every:
            self._last, self._read_at = self.read(), now
            self.reads += 1
            return self._last
        # Executed after the read: not in it yet. (Executed before: already in it.)
        moved = sum(
            (-f.side.sign * f.qty * f.price - f.commission for f in self.fills_since(_utc(self._read_at))),
            Decimal(0),
        )
        return replace(self._last, cash=self._last.cash + moved, buying_power=self._last.buying_power + moved)


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
