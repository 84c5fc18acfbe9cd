"""SlidingWindowLimiter: at most ``limit`` admissions per sliding window of bucketed slots."""

from __future__ import annotations

import threading

from resilience._clock import Clock, default_clock
from resilience.algorithms._decision import ALLOWED, Decision
from resilience.algorithms._params import Duration, integer, seconds
from resilience.algorithms._window import RollingCounter
from resilience.errors import RejectReason

_RATE_LIMIT = RejectReason.RATE_LIMIT.value
_NEVER = Decision(False, None, _RATE_LIMIT)


class SlidingWindowLimiter:
    """A sliding-window counter limiter (ALGORITHMS.md section 1).

    The ``window`` (seconds) is split into ``buckets`` slots of ``window / buckets`` seconds,
    aligned to ``floor(now / slot)``. :attr:`count` is the number of requests admitted in the
    last ``buckets`` slots, the current one included, and a request of weight ``n`` is admitted
    iff ``count + n <= limit``. Rejected requests are not counted.

    Guarantee: in any ``buckets`` consecutive slots at most ``limit`` requests are admitted, so
    at most ``limit`` in any interval of ``window - slot`` seconds. A burst at a window edge can
    reach ``limit`` per ``window - slot`` (not twice ``limit``, as with a fixed window), and
    nothing queues: the caller learns at once, with ``retry_after`` seconds until enough of the
    oldest slots expire to admit it.

    Source: the seed article's "distributed rate limiting" section, which weighed fixed window
    (boundary bursts), leaky bucket (queueing) and token bucket (bursts reach the callee) and
    chose the sliding-window counter. Thread-safe; the lock covers O(1) arithmetic only.

    ``limit``: admissions per window (int >= 0; 0 rejects everything). ``window``: seconds
    (float or timedelta, > 0). ``buckets``: slots per window (>= 1; more slots follow the
    window more smoothly at the cost of memory, 10 is plenty). ``clock``: seconds, read once
    per call.
    """

    __slots__ = (
        "_buckets",
        "_clock",
        "_counter",
        "_freed_at",
        "_freed_excess",
        "_freed_slot",
        "_limit",
        "_lock",
        "_window",
    )

    def __init__(
        self,
        limit: int,
        window: Duration = 1.0,
        buckets: int = 10,
        *,
        clock: Clock = default_clock,
    ) -> None:
        self._limit = integer("limit", limit, minimum=0)
        self._window = seconds("window", window)
        self._buckets = integer("buckets", buckets, minimum=1)
        self._counter = RollingCounter(window=self._window, buckets=self._buckets)
        self._clock = clock
        self._freed_slot, self._freed_excess, self._freed_at = -1, 0.0, 0.0
        self._lock = threading.Lock()

    @property
    def limit(self) -> int:
        """Admissions allowed per window."""
        return self._limit

    @property
    def window(self) -> float:
        """The window length in seconds."""
        return self._window

    @property
    def buckets(self) -> int:
        """Slots per window."""
        return self._buckets

    @property
    def count(self) -> int:
        """Requests admitted in the sliding window (the last ``buckets`` slots) now."""
        now = self._clock()
        with self._lock:
            totals, _, oldest = self._counter.advance_rows(now)
            return int(totals[0] - oldest[0])

    def try_acquire(self, n: int = 1) -> Decision:
        """Admit a request of weight ``n`` (>= 1) iff ``count + n <= limit``.

        Returns the shared ``ALLOWED`` decision, or a rejection with reason ``"rate_limit"`` and
        ``retry_after`` = seconds until enough of the oldest slots expire to admit ``n`` (None
        when ``n > limit``: it never will be).
        """
        now = self._clock()
        with self._lock:
            totals, current, oldest = self._counter.advance_rows(now)
            count = totals[0] - oldest[0]
            if 0 < n <= self._limit - count:
                current[0] += n
                totals[0] += n
                return ALLOWED
            if n < 1:
                raise ValueError(f"n must be >= 1, got {n!r}")
            if n > self._limit:
                return _NEVER
            # While neither the slot nor the count moves (a reject storm), neither does the
            # instant enough slots expire: compute it once.
            counter = self._counter
            slot, excess = counter.current, count + n - self._limit
            if slot != self._freed_slot or excess != self._freed_excess:
                boundaries = counter.slots_until_freed(0, excess)
                # The window holds count >= excess, so boundaries is never None here.
                self._freed_at = (slot + (boundaries or self._buckets)) * counter.slot
                self._freed_slot, self._freed_excess = slot, excess
            retry_after = self._freed_at - now
        return Decision(False, retry_after if retry_after > 0.0 else 0.0, _RATE_LIMIT)

    def __repr__(self) -> str:
        return (
            f"SlidingWindowLimiter(limit={self._limit}, window={self._window}, "
            f"buckets={self._buckets})"
        )
