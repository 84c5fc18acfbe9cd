"""What the two window limiters share: their parameters, their counter and the reject path.

:class:`SlidingWindowLimiter` and :class:`TieredLimiter` differ only in how they admit; both
count admissions over the same sliding window and tell a rate-limited caller when enough of the
oldest slots expire. Subclasses keep the counting inline (it is the hot path: the counter's
rows are read directly, and not even advanced while ``now < counter.next_slot_at``), decide
with their rule (the tiered one is :func:`resilience.algorithms._admission.admission`) and call
:meth:`WindowLimiter._rate_limited` only when they reject. Their ``try_acquire`` takes the lock
with ``acquire()`` and ``try``/``finally: release()`` rather than ``with``: on CPython 3.11 a
``with`` block costs about 50 ns more per call (benchmarks/algorithms.py).
"""

from __future__ import annotations

import threading

from resilience._base.clock import Clock, default_clock
from resilience._base.limits import MAX_BUCKETS, MAX_COUNT
from resilience.algorithms._decision import Decision
from resilience.algorithms._params import Duration, integer, seconds
from resilience.algorithms._window import RollingCounter
from resilience.errors import RejectReason

RATE_LIMIT = RejectReason.RATE_LIMIT.value
NEVER = Decision(False, None, RATE_LIMIT)
"""The rejection of a request heavier than the whole limit: no wait admits it."""


class WindowLimiter:
    """``limit`` admissions per ``window`` seconds of ``buckets`` slots, counted on channel
    ``_ADMITTED`` of a :class:`RollingCounter` of ``_CHANNELS`` channels (set by a subclass).
    Parameters and their ranges: see :class:`SlidingWindowLimiter`."""

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

    _CHANNELS = 1
    """How many counts each slot of the counter holds."""
    _ADMITTED = 0
    """The counter channel holding every admission (the one ``count`` and ``retry_after`` read)."""

    def __init__(
        self,
        limit: int,
        window: Duration = 1.0,
        buckets: int = 10,
        *,
        clock: Clock = default_clock,
    ) -> None:
        self._limit = integer("limit", limit, minimum=0, maximum=MAX_COUNT)
        self._window = seconds("window", window)
        self._buckets = integer("buckets", buckets, minimum=1, maximum=MAX_BUCKETS)
        self._counter = RollingCounter(
            window=self._window, buckets=self._buckets, channels=self._CHANNELS
        )
        self._clock = clock
        self._freed_slot, self._freed_excess, self._freed_at = -1, 0.0, 0.0
        self._lock = threading.Lock()

    @property
    def limit(self) -> int:
        """Admissions allowed per window (all tiers together, for a tiered limiter)."""
        return self._limit

    def set_limit(self, limit: int) -> None:
        """Admit ``limit`` (int >= 0) per window from now on, keeping what the window has
        counted: the admissions of the last ``window`` seconds count against the new limit
        (a policy reload that changes only the limit does not open a fresh window)."""
        value = integer("limit", limit, minimum=0, maximum=MAX_COUNT)
        with self._lock:
            self._limit = value

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
        channel = self._ADMITTED
        with self._lock:
            totals, _, oldest = self._counter.advance_rows(now)
            return int(totals[channel] - oldest[channel])

    def _rate_limited(self, excess: float, now: float) -> Decision:
        """A ``"rate_limit"`` rejection whose ``retry_after`` is the seconds until the oldest
        slots that hold ``excess`` admissions (> 0, at most what the window holds) expire.

        Call with the lock held, right after :meth:`RollingCounter.advance_rows` for ``now``.
        While neither the slot nor the excess moves (a reject storm), neither does that instant,
        so it is computed once per change.
        """
        counter = self._counter
        slot = counter.current
        if slot != self._freed_slot or excess != self._freed_excess:
            boundaries = counter.slots_until_freed(self._ADMITTED, excess)
            # The window holds at least the excess, so boundaries is never None here.
            self._freed_at = (slot + (boundaries or self._buckets)) * counter.slot
            self._freed_slot, self._freed_excess = slot, excess
        retry_after = self._freed_at - now
        return Decision(False, retry_after if retry_after > 0.0 else 0.0, RATE_LIMIT)
