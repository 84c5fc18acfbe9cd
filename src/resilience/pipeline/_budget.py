"""RetryBudget: retries (and hedges) as a bounded share of the calls offered."""

from __future__ import annotations

import threading

from resilience._base.clock import Clock, default_clock
from resilience.algorithms._params import Duration, integer, number, seconds
from resilience.algorithms._window import RollingCounter

_CALLS, _RETRIES = 0, 1


class RetryBudget:
    """Allow a retry or a hedge only while extra attempts stay within ``ratio`` of the calls
    offered over the last ``window`` seconds, plus ``min_retries`` per window::

        retries_in_window + 1 <= ratio * calls_in_window + min_retries

    This is the fixed-ratio budget of Finagle's ``RetryBudget`` (20% of requests, a reserve
    of 10 per second over 10 s) and Envoy's retry budgets (``budget_percent`` of active
    requests, ``min_retry_concurrency``), and it plays the role of gRPC's retry throttling
    (a token bucket that disables retries once failures drain it): under a dependency that
    always fails, it receives at most ``(1 + ratio) * calls + min_retries`` attempts per window
    instead of ``max_attempts * calls``.

    One budget may be shared by any number of pipelines (``Retry`` and ``Hedge`` stages alike)
    so that retries are bounded across the process; each pipeline call counts once
    (:meth:`record_call`, done by the pipeline). ``ratio`` >= 0, ``min_retries`` >= 0,
    ``window`` seconds (> 0), ``buckets`` (>= 1), ``clock`` seconds. Thread-safe.
    """

    __slots__ = ("_clock", "_counter", "_lock", "_min", "_ratio", "window")

    def __init__(
        self,
        ratio: float = 0.2,
        *,
        min_retries: int = 10,
        window: Duration = 10.0,
        buckets: int = 10,
        clock: Clock = default_clock,
    ) -> None:
        self._ratio = number("ratio", ratio, low=0.0)
        self._min = integer("min_retries", min_retries, minimum=0)
        self.window = seconds("window", window)
        self._counter = RollingCounter(
            window=self.window, buckets=integer("buckets", buckets, minimum=1), channels=2
        )
        self._clock = clock
        self._lock = threading.Lock()

    @property
    def ratio(self) -> float:
        """Extra attempts allowed per call offered."""
        return self._ratio

    def record_call(self) -> None:
        """Count one call offered (its first attempt)."""
        now = self._clock()
        lock = self._lock
        lock.acquire()  # not `with`: 50 ns less per call on CPython 3.11 (benchmarks/README.md)
        try:
            counter = self._counter
            totals, current, _ = (
                counter.rows if now < counter.next_slot_at else counter.advance_rows(now)
            )
            current[_CALLS] += 1
            totals[_CALLS] += 1
        finally:
            lock.release()

    def try_spend(self) -> bool:
        """Take one extra attempt from the budget if it has room; False leaves it unchanged."""
        now = self._clock()
        lock = self._lock
        lock.acquire()
        try:
            counter = self._counter
            totals, current, oldest = (
                counter.rows if now < counter.next_slot_at else counter.advance_rows(now)
            )
            calls = totals[_CALLS] - oldest[_CALLS]
            retries = totals[_RETRIES] - oldest[_RETRIES]
            if retries + 1 > self._ratio * calls + self._min:
                return False
            current[_RETRIES] += 1
            totals[_RETRIES] += 1
            return True
        finally:
            lock.release()

    def counts(self) -> tuple[int, int]:
        """``(calls, retries)`` over the current window."""
        now = self._clock()
        with self._lock:
            totals, _, oldest = self._counter.advance_rows(now)
            return (
                int(totals[_CALLS] - oldest[_CALLS]),
                int(totals[_RETRIES] - oldest[_RETRIES]),
            )

    def __repr__(self) -> str:
        return f"RetryBudget(ratio={self._ratio}, min_retries={self._min}, window={self.window})"
