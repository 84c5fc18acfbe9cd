"""The admission rules of SlidingWindowLimiter and TieredLimiter, over counts from a store.

Pure arithmetic shared by the memory store, the decoding of the Redis script's replies and the
periodic local view; ``decide.lua`` evaluates the same rules inside Redis.

- Sliding window: admit iff ``count + n <= limit``, ``count`` = admitted in the last
  ``buckets`` slots, the current one included.
- Tiered: admit a tier-``k`` request iff
  ``sum(A_j for j >= k) + n <= limit - sum(D_j for j < k)`` and ``sum(A_j) + n <= limit``,
  with ``A_j`` admitted over the sliding window and ``D_j`` demand over the last complete
  window (the second condition is TieredLimiter's guard against a surge of a critical tier).
"""

from __future__ import annotations

from collections.abc import Sequence

from resilience.algorithms._decision import ALLOWED, Decision
from resilience.backends._spec import TIERS, Counts, LimitSpec
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
    tier: int,
    n: int,
    weight: float,
    into_slot: float,
) -> Decision:
    """The rejection of ``n`` requests of ``tier`` weighing ``weight`` (``n`` unless
    estimated), as the memory limiters give it. ``total``: every tier's admissions over the
    sliding window (``window_slots`` per slot, oldest first); ``used``: those of the request's
    tier and the less critical ones (a sliding limit ignores ``used`` and ``tier``).

    ``rate_limit`` when the limit is used up, with ``retry_after`` the time until enough of
    the oldest slots expire for ``total`` to admit ``n`` (None when ``n > limit``: it never
    will be admitted). Tiered only: ``shed`` when capacity went or is kept for more critical
    tiers, with no ``retry_after``: it stays shed while they need it.
    """
    limit = spec.limit
    if n > limit:
        return _NEVER
    if spec.tiered and (total + weight <= limit or (tier > 1 and used + weight <= limit)):
        return _SHED_DECISION
    excess = total + weight - limit
    return Decision(False, retry_after(window_slots, excess, into_slot, spec.slot), _RATE_LIMIT)


def decide_on_counts(
    spec: LimitSpec, counts: Counts, tier: int, n: int, into_slot: float
) -> Decision:
    """Evaluate ``spec``'s rule for ``n`` requests of ``tier`` on exact ring ``counts``.

    Sliding window: ``count + n <= limit``. Tiered (as TieredLimiter): admit iff
    ``sum(A_j, j >= k) + n <= limit - sum(D_j, j < k)`` and ``sum(A_j) + n <= limit``.
    Does not record anything: the caller adds the demand and, if allowed, the admission.
    """
    if not spec.tiered:
        window = counts[0][1:]
        count = sum(window)
        if count + n <= spec.limit:
            return ALLOWED
        return rejection(
            spec, window, total=count, used=count, tier=1, n=n, weight=n, into_slot=into_slot
        )
    per_tier = [sum(counts[j][1:]) for j in range(TIERS)]
    total, used = sum(per_tier), sum(per_tier[tier - 1 :])
    reserved = sum(sum(counts[TIERS + j][:-1]) for j in range(tier - 1))
    if total + n <= spec.limit and used + n <= spec.limit - reserved:
        return ALLOWED
    total_slots = [sum(slots) for slots in zip(*(counts[j][1:] for j in range(TIERS)), strict=True)]
    return rejection(
        spec, total_slots, total=total, used=used, tier=tier, n=n, weight=n, into_slot=into_slot
    )


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
