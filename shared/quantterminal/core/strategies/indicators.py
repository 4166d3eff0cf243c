"""Incremental technical indicators: O(1) (amortised) work per bar, state as plain data.

Every indicator has ``update(...)`` returning the new value, or ``None`` until it has seen enough
input to be *warmed up*; ``value`` and ``ready`` read the latest result; ``snapshot()`` returns its
full state as a JSON-serialisable dict and ``restore(state)`` loads one, after which the indicator
continues bit-for-bit as the original would have. The live path keeps these snapshots in Redis
between Lambda invocations, so this exactness is what makes backtest and live decisions identical.

Rolling sums are kept incrementally and recomputed exactly (``math.fsum``) once per window length,
so floating-point drift cannot build up over millions of updates; the cost is one extra pass over
the window every ``period`` updates.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

_CANCELLATION_GUARD = 1e-6


def _check_period(period: int, minimum: int = 1) -> int:
    if not isinstance(period, int) or isinstance(period, bool) or period < minimum:
        raise ValueError(f"period must be an integer >= {minimum}, got {period!r}")
    return period


def _check_kind(state: dict[str, Any], kind: str, period: int) -> None:
    if state.get("kind") != kind or state.get("period") != period:
        raise ValueError(f"snapshot is for {state.get('kind')}({state.get('period')}), not {kind}({period})")


class Indicator:
    """Base of every indicator: the latest ``value``, ``None`` until warmed up."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: float | None = None

    @property
    def ready(self) -> bool:
        """True once the indicator has seen enough input to have a value."""
        return self.value is not None


class SMA(Indicator):
    """Simple moving average of the last ``period`` values."""

    __slots__ = ("_since_resum", "_sum", "_window", "period")

    def __init__(self, period: int) -> None:
        self.period = _check_period(period)
        self._window: deque[float] = deque(maxlen=period)
        self._sum = 0.0
        self._since_resum = 0
        super().__init__()

    def update(self, x: float) -> float | None:
        # Hot path of every backtest: locals instead of repeated attribute reads.
        window = self._window
        period = self.period
        full = len(window) == period
        total = self._sum + (x - window[0]) if full else self._sum + x
        window.append(x)
        since = self._since_resum + 1
        if since >= period:
            total = math.fsum(window)
            since = 0
        self._sum = total
        self._since_resum = since
        if full or len(window) == period:
            self.value = total / period
        return self.value

    def snapshot(self) -> dict[str, Any]:
        return {
            "kind": "sma",
            "period": self.period,
            "window": list(self._window),
            "sum": self._sum,
            "since_resum": self._since_resum,
            "value": self.value,
        }

    def restore(self, state: dict[str, Any]) -> None:
        _check_kind(state, "sma", self.period)
        self._window = deque((float(v) for v in state["window"]), maxlen=self.period)
        self._sum = float(state["sum"])
        self._since_resum = int(state["since_resum"])
        self.value = state["value"]


class EMA(Indicator):
    """Exponential moving average, ``alpha = 2 / (period + 1)``, seeded with the SMA of the first
    ``period`` values (the TA-Lib convention); ready after ``period`` values."""

    __slots__ = ("_seed", "alpha", "period")

    def __init__(self, period: int) -> None:
        self.period = _check_period(period)
        self.alpha = 2.0 / (period + 1)
        self._seed: list[float] = []
        super().__init__()

    def update(self, x: float) -> float | None:
        if self.value is not None:
            self.value += self.alpha * (x - self.value)
        else:
            self._seed.append(x)
            if len(self._seed) == self.period:
                self.value = math.fsum(self._seed) / self.period
                self._seed = []
        return self.value

    def snapshot(self) -> dict[str, Any]:
        return {"kind": "ema", "period": self.period, "seed": list(self._seed), "value": self.value}

    def restore(self, state: dict[str, Any]) -> None:
        _check_kind(state, "ema", self.period)
        self._seed = [float(v) for v in state["seed"]]
        self.value = state["value"]


class RollingStd(Indicator):
    """Rolling mean and standard deviation of the last ``period`` values.

    ``ddof=0`` (the default) is the population standard deviation, as Bollinger bands use.
    Uses the rolling form of Welford's update (no ``E[x²] − E[x]²`` cancellation), recomputed
    exactly with two passes once per window, and at once when an update shrinks the sum of
    squared deviations by more than a factor of 10⁶ (an outlier leaving the window).
    """

    __slots__ = ("_m2", "_mean", "_since_resum", "_window", "ddof", "mean", "period")

    def __init__(self, period: int, ddof: int = 0) -> None:
        self.period = _check_period(period, minimum=2 if ddof else 1)
        if ddof not in (0, 1):
            raise ValueError(f"ddof must be 0 or 1, got {ddof!r}")
        self.ddof = ddof
        self._window: deque[float] = deque(maxlen=period)
        self._mean = 0.0
        self._m2 = 0.0
        self._since_resum = 0
        self.mean: float | None = None
        super().__init__()

    def update(self, x: float) -> float | None:
        window = self._window
        n = self.period
        if len(window) == n:
            old = window[0]
            window.append(x)
            old_mean = self._mean
            old_m2 = self._m2
            self._mean = old_mean + (x - old) / n
            self._m2 = old_m2 + (x - old) * (x - self._mean + old - old_mean)
            if self._m2 < old_m2 * _CANCELLATION_GUARD:
                # A large value left the window: the update subtracted nearly equal numbers and its
                # rounding error may exceed what is left. Recompute exactly (two passes).
                self._since_resum = n - 1
        else:
            window.append(x)
            delta = x - self._mean
            self._mean += delta / len(window)
            self._m2 += delta * (x - self._mean)
        self._since_resum += 1
        if self._since_resum >= n:
            self._mean = math.fsum(window) / len(window)
            self._m2 = math.fsum((v - self._mean) ** 2 for v in window)
            self._since_resum = 0
        if len(window) == n:
            self.mean = self._mean
            self.value = math.sqrt(max(self._m2, 0.0) / (n - self.ddof))
        return self.value

    def snapshot(self) -> dict[str, Any]:
        return {
            "kind": "rolling_std",
            "period": self.period,
            "ddof": self.ddof,
            "window": list(self._window),
            "mean_acc": self._mean,
            "m2": self._m2,
            "since_resum": self._since_resum,
            "mean": self.mean,
            "value": self.value,
        }

    def restore(self, state: dict[str, Any]) -> None:
        _check_kind(state, "rolling_std", self.period)
        if state["ddof"] != self.ddof:
            raise ValueError(f"snapshot has ddof={state['ddof']}, not {self.ddof}")
        self._window = deque((float(v) for v in state["window"]), maxlen=self.period)
        self._mean = float(state["mean_acc"])
        self._m2 = float(state["m2"])
        self._since_resum = int(state["since_resum"])
        self.mean = state["mean"]
        self.value = state["value"]


class _RollingExtreme(Indicator):
    """Highest or lowest of the last ``period`` values with a monotonic deque (amortised O(1))."""

    __slots__ = ("_count", "_deque", "period")
    _kind = ""

    def __init__(self, period: int) -> None:
        self.period = _check_period(period)
        self._deque: deque[tuple[int, float]] = deque()
        self._count = 0
        super().__init__()

    def _dominates(self, a: float, b: float) -> bool:
        raise NotImplementedError

    def update(self, x: float) -> float | None:
        dq = self._deque
        index = self._count
        while dq and not self._dominates(dq[-1][1], x):
            dq.pop()
        dq.append((index, x))
        if dq[0][0] <= index - self.period:
            dq.popleft()
        self._count = index + 1
        if self._count >= self.period:
            self.value = dq[0][1]
        return self.value

    def snapshot(self) -> dict[str, Any]:
        return {
            "kind": self._kind,
            "period": self.period,
            "count": self._count,
            "deque": [[i, v] for i, v in self._deque],
            "value": self.value,
        }

    def restore(self, state: dict[str, Any]) -> None:
        _check_kind(state, self._kind, self.period)
        self._count = int(state["count"])
        self._deque = deque((int(i), float(v)) for i, v in state["deque"])
        self.value = state["value"]


class Highest(_RollingExtreme):
    """Highest of the last ``period`` values."""

    __slots__ = ()
    _kind = "highest"

    def _dominates(self, a: float, b: float) -> bool:
        return a > b


class Lowest(_RollingExtreme):
    """Lowest of the last ``period`` values."""

    __slots__ = ()
    _kind = "lowest"

    def _dominates(self, a: float, b: float) -> bool:
        return a < b


class ATR(Indicator):
    """Average true range with Wilder's smoothing, seeded with the mean of the first ``period``
    true ranges. The first bar's true range is ``high − low`` (there is no previous close)."""

    __slots__ = ("_prev_close", "_seed", "period")

    def __init__(self, period: int) -> None:
        self.period = _check_period(period)
        self._prev_close: float | None = None
        self._seed: list[float] = []
        super().__init__()

    def update(self, high: float, low: float, close: float) -> float | None:
        prev = self._prev_close
        if prev is None:
            true_range = high - low
        else:
            true_range = max(high - low, abs(high - prev), abs(low - prev))
        self._prev_close = close
        if self.value is not None:
            self.value = (self.value * (self.period - 1) + true_range) / self.period
        else:
            self._seed.append(true_range)
            if len(self._seed) == self.period:
                self.value = math.fsum(self._seed) / self.period
                self._seed = []
        return self.value

    def snapshot(self) -> dict[str, Any]:
        return {
            "kind": "atr",
            "period": self.period,
            "prev_close": self._prev_close,
            "seed": list(self._seed),
            "value": self.value,
        }

    def restore(self, state: dict[str, Any]) -> None:
        _check_kind(state, "atr", self.period)
        self._prev_close = state["prev_close"]
        self._seed = [float(v) for v in state["seed"]]
        self.value = state["value"]


class RateOfChange(Indicator):
    """Rate of change over ``period`` bars as a fraction: ``x[t] / x[t − period] − 1``.
    Ready after ``period + 1`` values."""

    __slots__ = ("_window", "period")

    def __init__(self, period: int) -> None:
        self.period = _check_period(period)
        self._window: deque[float] = deque(maxlen=period + 1)
        super().__init__()

    def update(self, x: float) -> float | None:
        window = self._window
        window.append(x)
        if len(window) == self.period + 1:
            base = window[0]
            self.value = x / base - 1.0 if base != 0.0 else None
        return self.value

    def snapshot(self) -> dict[str, Any]:
        return {"kind": "roc", "period": self.period, "window": list(self._window), "value": self.value}

    def restore(self, state: dict[str, Any]) -> None:
        _check_kind(state, "roc", self.period)
        self._window = deque((float(v) for v in state["window"]), maxlen=self.period + 1)
        self.value = state["value"]
