"""SlidingWindowLimiter: at most ``limit`` admissions per sliding window of bucketed slots."""

from __future__ import annotations

from resilience.algorithms._decision import ALLOWED, Decision
from resilience.algorithms._limiter import NEVER, WindowLimiter


class SlidingWindowLimiter(WindowLimiter):
    """A sliding-window counter limiter (no burst at a fixed window's boundary).

    The ``window`` (seconds) is split into ``buckets`` slots of ``window / buckets`` seconds,
    aligned to ``floor(now / slot)``. :attr:`count` is the number of requests admitted in the
    last ``buckets`` slots, the current one included, and a request of weight ``n`` is admitted
    iff ``count + n <= limit``. Rejected requests are not counted.

    Guarantee: in any ``buckets`` consecutive slots at most ``limit`` requests are admitted, so
    at most ``limit`` in any interval of ``window - slot`` seconds. A burst at a window edge can
    reach ``limit`` per ``window - slot`` (not twice ``limit``, as with a fixed window), and
    nothing queues: the caller learns at once, with ``retry_after`` seconds until enough of the
    oldest slots expire to admit it.

    Source: the QQ Music article's "distributed rate limiting" section, which weighed fixed window
    (boundary bursts), leaky bucket (queueing) and token bucket (bursts reach the callee) and
    chose the sliding-window counter. Thread-safe; the lock covers O(1) arithmetic only.

    ``limit``: admissions per window (int >= 0; 0 rejects everything). ``window``: seconds
    (float or timedelta, > 0). ``buckets``: slots per window (>= 1; more slots follow the
    window more smoothly at the cost of memory, 10 is plenty). ``clock``: seconds, read once
    per call.
    """

    __slots__ = ()

    def try_acquire(self, n: int = 1) -> Decision:
        """Admit a request of weight ``n`` (>= 1) iff ``count + n <= limit``.

        Returns the shared ``ALLOWED`` decision, or a rejection with reason ``"rate_limit"`` and
        ``retry_after`` = seconds until enough of the oldest slots expire to admit ``n`` (None
        when ``n > limit``: it never will be).
        """
        return self._acquire_at(n, self._clock())

    def _acquire_at(self, n: int, now: float) -> Decision:
        """:meth:`try_acquire` at ``now``, seconds on this limiter's clock, for a caller that
        has just read it (a fused pipeline shares one reading among its stages)."""
        lock = self._lock
        lock.acquire()  # not `with`: 50 ns less per call (see resilience.algorithms._limiter)
        try:
            counter = self._counter
            if now < counter.next_slot_at:
                totals, current, oldest = counter.rows
            else:
                totals, current, oldest = counter.advance_rows(now)
            count = totals[0] - oldest[0]
            if 0 < n <= self._limit - count:
                current[0] += n
                totals[0] += n
                return ALLOWED
            if n < 1:
                raise ValueError(f"n must be >= 1, got {n!r}")
            if n > self._limit:
                return NEVER
            return self._rate_limited(count + n - self._limit, now)
        finally:
            lock.release()

    def record(self, n: int, allowed: bool) -> None:
        """Count a decision of weight ``n`` taken elsewhere (for example by a shared store) as
        if this limiter had taken it now: an admission counts towards :attr:`count`, a
        rejection is not counted (as here)."""
        if not allowed:
            return
        now = self._clock()
        with self._lock:
            totals, current, _ = self._counter.advance_rows(now)
            current[0] += n
            totals[0] += n

    def __repr__(self) -> str:
        return (
            f"SlidingWindowLimiter(limit={self._limit}, window={self._window}, "
            f"buckets={self._buckets})"
        )
