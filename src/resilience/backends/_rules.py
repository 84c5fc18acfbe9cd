"""The admission rules of SlidingWindowLimiter and TieredLimiter over a shared limit's counts.

The rule itself is :func:`resilience.algorithms._admission.admission` (the one Python source,
TieredLimiter's too); ``decide.lua`` evaluates the same inequalities inside Redis. This module
feeds it a store's counts (:func:`decide_on_ring`: the memory store, and periodic mode's
fallback over its own counts) and turns a refusal into the memory limiters' rejection
(:func:`rejection`: also the decoding of the Redis script's replies and periodic mode's
estimates), with ``retry_after`` from the slots that must expire.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from resilience.algorithms._admission import ADMIT, SHED, admission
from resilience.algorithms._decision import ALLOWED, Decision
from resilience.algorithms._window import RollingCounter
from resilience.backends._spec import TIERS, LimitSpec
from resilience.errors import RejectReason

_RATE_LIMIT = RejectReason.RATE_LIMIT.value
_SHED_DECISION = Decision(False, None, RejectReason.SHED.value)
_NEVER = Decision(False, None, _RATE_LIMIT)


def retry_after(
    window_slots: Sequence[float], excess: float, into_slot: float, slot: float
) -> float | None:
    """Seconds until the oldest slots of ``window_slots`` (oldest first, current last) that
    must expire to free ``excess`` requests have expired; None if expiry alone never frees it.

    The oldest slot leaves the window when the next slot starts, ``slot - into_slot`` seconds
    from now; the ``i``-th oldest ``i`` slots later.
    """
    if excess <= 0:
        return 0.0
    freed = 0.0
    for i, count in enumerate(window_slots):
        freed += count
        if freed >= excess:
            return max(0.0, (i + 1) * slot - into_slot)
    return None


def rejection(
    spec: LimitSpec,
    window_slots: Sequence[float],
    *,
    total: float,
    used: float,
    n: int,
    weight: float,
    into_slot: float,
) -> Decision:
    """The rejection of ``n`` requests weighing ``weight`` (``n`` unless estimated) that the
    rule refused, as the memory limiters give it. ``total``: every tier's admissions over the
    sliding window (``window_slots`` per slot, oldest first); ``used``: those of the request's
    tier and the less critical ones (``total`` for a sliding limit).

    ``rate_limit`` when the limit is used up, with ``retry_after`` the time until enough of
    the oldest slots expire for ``total`` to admit ``n`` (None when ``n > limit``: it never
    will be admitted). ``shed`` (tiered only) when capacity went or is kept for more critical
    tiers, with no ``retry_after``: it stays shed while they need it. Which of the two is the
    rule's verdict with everything reserved: it depends on ``total`` and ``used`` alone.
    """
    limit = spec.limit
    if n > limit:
        return _NEVER
    if admission(limit, weight, total, used, math.inf) == SHED:
        return _SHED_DECISION
    excess = total + weight - limit
    return Decision(False, retry_after(window_slots, excess, into_slot, spec.slot), _RATE_LIMIT)


def decide_on_ring(
    spec: LimitSpec, ring: RollingCounter, base: int, tier: int, n: int, into_slot: float
) -> Decision:
    """Evaluate ``spec``'s rule for ``n`` requests of ``tier`` on exact counts: channels
    ``base`` to ``base + spec.channels - 1`` of ``ring`` (advanced to the current slot),
    laid out as :mod:`~resilience.backends._spec` says (admitted per tier, then demand).

    ``A_j`` is admitted over the sliding window (the ring's total less its oldest slot),
    ``D_j`` demand over the last complete window (the total less the newest slot), exactly
    what ``decide.lua`` reads from its hash. Does not record anything: the caller adds the
    demand and, if allowed, the admission.
    """
    totals, newest, oldest = ring.rows
    tiers = spec.tiers
    k = tier - 1 if tiers > 1 else 0  # a sliding limit has one tier, whatever is asked
    admitted = [totals[c] - oldest[c] for c in range(base, base + tiers)]
    total = sum(admitted)
    used = sum(admitted[k:])
    reserved = 0.0
    for c in range(base + tiers, base + tiers + k):
        reserved += totals[c] - newest[c]
    if admission(spec.limit, n, total, used, reserved) == ADMIT:
        return ALLOWED
    per_slot = [0.0] * spec.buckets
    for c in range(base, base + tiers):
        for i, count in enumerate(ring.window_slots(c)):
            per_slot[i] += count
    return rejection(spec, per_slot, total=total, used=used, n=n, weight=n, into_slot=into_slot)


def check_tier(tier: int) -> int:
    """``tier`` as an int in 1..4, or ValueError naming the allowed range."""
    if isinstance(tier, bool) or not isinstance(tier, int) or not 1 <= tier <= TIERS:
        raise ValueError(f"tier must be an int in 1..{TIERS}, got {tier!r}")
    return tier


def check_n(n: int) -> int:
    """``n`` as an int >= 1, or ValueError."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    return n
