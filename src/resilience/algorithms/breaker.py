"""SreBreaker: client-side adaptive throttling, two states, no hard open.

The two per-call methods (:meth:`SreBreaker.try_acquire`, :meth:`SreBreaker.record`) take the
lock with ``acquire()`` and ``try``/``finally: release()`` rather than ``with``, which costs
about 50 ns more per call on CPython 3.11 (measured in benchmarks/algorithms.py), and read the
counter's rows without advancing it while the call stays in the current slot. Their bodies
take the time as an argument (``_admit_at``, ``_record_at``) so that a fused pipeline on the
same clock reads it once for all its stages.
"""

from __future__ import annotations

import random
import threading
from enum import Enum

from resilience._base.clock import Clock, default_clock
from resilience._base.limits import MAX_BUCKETS, MAX_COUNT
from resilience.algorithms._decision import ALLOWED, Decision
from resilience.algorithms._params import Duration, integer, number, seconds
from resilience.algorithms._window import RollingCounter
from resilience.errors import RejectReason

_DROPPED = Decision(False, None, RejectReason.BREAKER.value)
_REQUESTS = 0
_ACCEPTS = 1


class BreakerState(str, Enum):
    """The breaker's state: ``CLOSED`` while it drops nothing, ``HALF_OPEN`` while it drops a
    fraction of calls. There is no OPEN state: some calls always get through."""

    CLOSED = "closed"
    HALF_OPEN = "half_open"

    def __str__(self) -> str:
        return self.value


class SreBreaker:
    """Client-side adaptive throttling (Google, *Site Reliability Engineering*, "Handling
    Overload").

    Over a rolling ``window`` of ``buckets`` slots, ``requests`` counts every call that has a
    result: each admitted call when its outcome reaches :meth:`record`, and each dropped call at
    :meth:`try_acquire` (local rejections count, as the SRE book requires); ``accepts`` counts
    the successful outcomes. A call is dropped with probability::

        p = max(0, (requests - k * accepts) / (requests + 1))

    where ``p = 0`` while ``requests < min_requests`` and ``p <= max_drop``. A healthy callee
    (accepts ~ requests) gives p = 0; as its success rate falls below ``1 / k`` the breaker
    sheds the excess locally, so a failing callee is not flooded by retries, and it recovers by
    itself as successes return. If nothing was admitted for ``probe_interval`` seconds the next
    call is admitted anyway (a probe), so a recovered callee is noticed even at high ``p``.

    ``k``: >= 1 (the SRE book prefers 2, the QQ Music article 1.5-2; smaller drops more; below 1 it
    would drop calls even when every call succeeds). ``window``: seconds (> 0). ``buckets``: slots
    (>= 1). ``min_requests``: calls in the window before anything is dropped (>= 0). ``max_drop``:
    the cap on p, in [0, 1]. ``probe_interval``: seconds (> 0). ``rng``: draws the drop decision.
    ``clock``: seconds, read once per call.

    Why admitted calls are counted at :meth:`record`, not at admission: a call still in flight
    has a request but no accept yet, so counting it early makes a burst of slow successes after
    an idle moment look like failures (20 calls in flight: p = 20/21, capped at ``max_drop``).
    Counting at the outcome, as Kratos and go-zero do, keeps ``requests - accepts`` equal to the
    failures and drops. Every admitted call must reach :meth:`record` exactly once.

    Which outcomes count as failures is the caller's classification. Thread-safe.
    """

    __slots__ = (
        "_accepts_weight",
        "_buckets",
        "_clock",
        "_counter",
        "_last_admit",
        "_lock",
        "_max_drop",
        "_min_requests",
        "_probe_interval",
        "_random",
        "_window",
    )

    def __init__(
        self,
        k: float = 2.0,
        window: Duration = 10.0,
        buckets: int = 40,
        min_requests: int = 20,
        max_drop: float = 0.9,
        probe_interval: Duration = 1.0,
        *,
        clock: Clock = default_clock,
        rng: random.Random | None = None,
    ) -> None:
        self._accepts_weight = number("k", k, low=1.0)
        self._window = seconds("window", window)
        self._buckets = integer("buckets", buckets, minimum=1, maximum=MAX_BUCKETS)
        self._min_requests = integer("min_requests", min_requests, minimum=0, maximum=MAX_COUNT)
        self._max_drop = number("max_drop", max_drop, low=0.0, high=1.0)
        self._probe_interval = seconds("probe_interval", probe_interval)
        self._counter = RollingCounter(window=self._window, buckets=self._buckets, channels=2)
        self._random = (rng if rng is not None else random.Random()).random
        self._clock = clock
        self._last_admit = -float("inf")
        self._lock = threading.Lock()

    @property
    def k(self) -> float:
        """The accepts multiplier K."""
        return self._accepts_weight

    @property
    def drop_probability(self) -> float:
        """p over the current window: the probability the next call is dropped (0..max_drop)."""
        now = self._clock()
        with self._lock:
            totals, _, oldest = self._counter.advance_rows(now)
            requests = totals[_REQUESTS] - oldest[_REQUESTS]
            if requests < self._min_requests:
                return 0.0
            accepts = totals[_ACCEPTS] - oldest[_ACCEPTS]
        p = (requests - self._accepts_weight * accepts) / (requests + 1)
        return min(p, self._max_drop) if p > 0 else 0.0

    @property
    def state(self) -> BreakerState:
        """``HALF_OPEN`` while :attr:`drop_probability` > 0, else ``CLOSED``."""
        return BreakerState.HALF_OPEN if self.drop_probability > 0 else BreakerState.CLOSED

    def counts(self) -> tuple[int, int]:
        """``(requests, accepts)`` over the current window."""
        now = self._clock()
        with self._lock:
            totals, _, oldest = self._counter.advance_rows(now)
            return (
                int(totals[_REQUESTS] - oldest[_REQUESTS]),
                int(totals[_ACCEPTS] - oldest[_ACCEPTS]),
            )

    def try_acquire(self) -> Decision:
        """Admit the call, or drop it (reason ``"breaker"``) with probability p.

        p is the :attr:`drop_probability` seen just before the call. A dropped call is counted
        as a request at once; an admitted one is counted when :meth:`record` gets its outcome.
        A dropped call's ``retry_after`` is None: drops are random, the next call may pass.
        """
        return self._admit_at(self._clock())

    def _admit_at(self, now: float) -> Decision:
        """:meth:`try_acquire` at ``now``, seconds on this breaker's clock, for a caller that
        has just read it (a fused pipeline shares one reading among its stages)."""
        lock = self._lock
        lock.acquire()  # not `with`: see the module docstring
        try:
            counter = self._counter
            totals, current, oldest = (
                counter.rows if now < counter.next_slot_at else counter.advance_rows(now)
            )
            requests = totals[_REQUESTS] - oldest[_REQUESTS]
            if requests >= self._min_requests:
                accepts = totals[_ACCEPTS] - oldest[_ACCEPTS]
                excess = requests - self._accepts_weight * accepts
                if excess > 0:
                    p = excess / (requests + 1)
                    if p > self._max_drop:
                        p = self._max_drop
                    if self._random() < p and now - self._last_admit < self._probe_interval:
                        current[_REQUESTS] += 1
                        totals[_REQUESTS] += 1
                        return _DROPPED
            self._last_admit = now
        finally:
            lock.release()
        return ALLOWED

    def record(self, success: bool) -> None:
        """Record an admitted call's outcome: one more request, and one more accept if it
        succeeded."""
        self._record_at(success, self._clock())

    def _record_at(self, success: bool, now: float) -> None:
        """:meth:`record` at ``now``, seconds on this breaker's clock (see :meth:`_admit_at`)."""
        lock = self._lock
        lock.acquire()
        try:
            counter = self._counter
            totals, current, _ = (
                counter.rows if now < counter.next_slot_at else counter.advance_rows(now)
            )
            current[_REQUESTS] += 1
            totals[_REQUESTS] += 1
            if success:
                current[_ACCEPTS] += 1
                totals[_ACCEPTS] += 1
        finally:
            lock.release()

    def __repr__(self) -> str:
        return (
            f"SreBreaker(k={self._accepts_weight}, window={self._window}, "
            f"buckets={self._buckets}, min_requests={self._min_requests}, "
            f"max_drop={self._max_drop}, probe_interval={self._probe_interval})"
        )
