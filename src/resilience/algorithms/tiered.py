"""TieredLimiter: one limit shared by four tiers, the most critical served first."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from resilience._base.clock import Clock, default_clock
from resilience.algorithms._admission import ADMIT, SHED, admission
from resilience.algorithms._decision import ALLOWED, Decision
from resilience.algorithms._limiter import NEVER, WindowLimiter
from resilience.algorithms._params import Duration
from resilience.algorithms._window import Rows
from resilience.errors import RejectReason

_SHED = Decision(False, None, RejectReason.SHED.value)
_TIERS = 4
_DEMAND = _TIERS
_TOTAL = 2 * _TIERS
"""Counter channels: 0..3 admitted of tier 1..4, 4..7 demand of tier 1..4, 8 admitted in all."""
_ADMITTED_AT_OR_BELOW = tuple(tuple(range(k, _TIERS)) for k in range(_TIERS))
"""Per tier index k: the channels of ``sum(A_j for j >= k)``."""


class Tier(IntEnum):
    """How critical a request is: 1 the most critical, 4 the first to be shed.

    Examples from the QQ Music article's "service tiering": 1 login, playback, entitlement;
    2 charts, comments; 3 avatars, pop-ups; 4 red-dot badges. Any int 1..4 is accepted wherever
    a Tier is.
    """

    CRITICAL = 1
    IMPORTANT = 2
    SECONDARY = 3
    BEST_EFFORT = 4


@dataclass(frozen=True, slots=True)
class TierStats:
    """One tier's inputs to the admission rule, for metrics.

    ``admitted``: requests admitted over the sliding window (current slot included).
    ``demand``: every request, admitted or not, over the last complete window.
    """

    tier: Tier
    admitted: int
    demand: int


class TieredLimiter(WindowLimiter):
    """Strict-priority limiting with capacity reserved from recent demand (tiers 1 to 4).

    Let ``D_j`` be tier j's demand (every request, admitted or not) over the last complete
    window (the ``buckets`` slots before the current one: a steady estimate, free of the dip
    when the oldest slot drops out) and ``A_j`` its admissions over the sliding window (current
    slot included). A request of tier k and weight n is admitted iff::

        sum(A_j for j >= k) + n <= limit - sum(D_j for j < k)
        and sum(A_j for every j) + n <= limit

    (:func:`resilience.algorithms._admission.admission`, the one Python source of the rule:
    the shared limiters of :mod:`resilience.backends` call it too).

    The first condition is the contract's rule: capacity the more critical tiers asked for in
    the last window is kept for them, so a tier is rejected only when every less critical tier
    already is, and under overload only tier 1 passes. Worked steady state: limit 100/s and
    demand 50, 40, 40, 100 per second for tiers 1..4 admit 50, 40, 10, 0; demand 150 from
    tier 1 alone admits 100 of it and nothing else. The second condition never binds in a
    steady state (there ``A_j <= D_j``); it keeps the total within ``limit`` for the one window
    after a critical tier's demand surges above what it asked for in the last window, when the
    reservation lags and the first condition alone would let the total overshoot.

    A rejection's reason is ``"rate_limit"`` when ``sum(A_j for j >= k) + n > limit`` (the tier
    and those below it used the whole limit) and ``"shed"`` otherwise (capacity went or is kept
    for more critical tiers). ``retry_after`` is None for a shed request, which will stay shed
    while more critical tiers need the capacity (a short pushback would only invite retries),
    and for a rate-limited one the time until enough of the oldest slots expire for the total
    to admit ``n`` (a lower bound), or None when ``n > limit``.

    Source: the QQ Music article's "service tiering" and "gateway tiered limiting" ("under high
    load only Level 1 passes"). Parameters as :class:`SlidingWindowLimiter`. Thread-safe.
    """

    __slots__ = ("_reserved", "_reserved_rows")

    _CHANNELS = 2 * _TIERS + 1
    _ADMITTED = _TOTAL

    def __init__(
        self,
        limit: int,
        window: Duration = 1.0,
        buckets: int = 10,
        *,
        clock: Clock = default_clock,
    ) -> None:
        super().__init__(limit, window, buckets, clock=clock)
        self._reserved: list[float] = [0] * _TIERS
        """Per tier index k: ``sum(D_j for j < k)``, as of the slot of ``_reserved_rows``."""
        self._reserved_rows: Rows | None = None

    def _note_reserved(self, rows: Rows) -> None:
        """Recompute :attr:`_reserved` for the slot whose live rows are ``rows``. Demand over
        the last complete window (totals less the current slot) does not change within a slot,
        so this runs once per slot, not per call."""
        totals, current, _ = rows
        reserved = self._reserved
        for k in range(1, _TIERS):
            j = _DEMAND + k - 1
            reserved[k] = reserved[k - 1] + totals[j] - current[j]
        self._reserved_rows = rows

    def snapshot(self) -> tuple[TierStats, ...]:
        """Each tier's admitted and demand counts now, tier 1 first."""
        now = self._clock()
        with self._lock:
            totals, current, oldest = self._counter.advance_rows(now)
            return tuple(
                TierStats(
                    tier=Tier(j + 1),
                    admitted=int(totals[j] - oldest[j]),
                    demand=int(totals[_DEMAND + j] - current[_DEMAND + j]),
                )
                for j in range(_TIERS)
            )

    def try_acquire(self, tier: int, n: int = 1) -> Decision:
        """Admit a request of ``tier`` (1..4) and weight ``n`` (>= 1) by the rule above."""
        if not 1 <= tier <= _TIERS or n < 1:
            raise ValueError(f"tier must be in 1..4 and n >= 1, got tier={tier!r}, n={n!r}")
        return self._acquire_at(tier, n, self._clock())

    def _acquire_at(self, tier: int, n: int, now: float) -> Decision:
        """:meth:`try_acquire` at ``now``, seconds on this limiter's clock, for a caller that
        has checked ``tier`` and ``n`` and just read the clock (a fused pipeline shares one
        reading among its stages)."""
        k = tier - 1
        lock = self._lock
        lock.acquire()  # not `with`: 50 ns less per call (see resilience.algorithms._limiter)
        try:
            counter = self._counter
            rows = counter.rows if now < counter.next_slot_at else counter.advance_rows(now)
            totals, current, oldest = rows
            demand = _DEMAND + k
            current[demand] += n
            totals[demand] += n
            total = totals[_TOTAL] - oldest[_TOTAL]
            if k:
                used: float = 0
                for j in _ADMITTED_AT_OR_BELOW[k]:
                    used += totals[j] - oldest[j]
                if rows is not self._reserved_rows:
                    self._note_reserved(rows)
                reserved = self._reserved[k]
            else:  # tier 1: it uses what every tier uses, nothing is kept above it
                used, reserved = total, 0
            limit = self._limit
            verdict = admission(limit, n, total, used, reserved)
            if verdict == ADMIT:
                current[k] += n
                totals[k] += n
                current[_TOTAL] += n
                totals[_TOTAL] += n
                return ALLOWED
            if verdict == SHED:
                return _SHED
            if n > limit:
                return NEVER
            return self._rate_limited(total + n - limit, now)
        finally:
            lock.release()

    def record(self, tier: int, n: int, allowed: bool) -> None:
        """Count a decision on ``n`` requests of ``tier`` taken elsewhere (for example by a
        shared store) as if this limiter had taken it now: demand always, and the admission
        if ``allowed``, so the reservation and the window start from them."""
        k = tier - 1
        now = self._clock()
        with self._lock:
            totals, current, _ = self._counter.advance_rows(now)
            current[_DEMAND + k] += n
            totals[_DEMAND + k] += n
            if allowed:
                for channel in (k, _TOTAL):
                    current[channel] += n
                    totals[channel] += n

    def __repr__(self) -> str:
        return f"TieredLimiter(limit={self._limit}, window={self._window}, buckets={self._buckets})"
