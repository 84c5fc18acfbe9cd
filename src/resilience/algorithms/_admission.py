"""The tiered admission rule, the one Python source of it.

:class:`~resilience.algorithms.TieredLimiter` applies it to its own counts, the shared limiters
of :mod:`resilience.backends` to a store's counts (the memory store), to periodic mode's
estimates and to explain the Redis script's rejections; ``decide.lua`` evaluates the same
inequalities inside Redis, and the backends' same-rules test replays traces through both.

With ``A_j`` tier j's admissions over the sliding window and ``D_j`` its demand over the last
complete window, a request of tier k weighing ``weight`` is admitted iff::

    used + weight <= limit - reserved   and   total + weight <= limit

where ``used = sum(A_j for j >= k)``, ``reserved = sum(D_j for j < k)`` and
``total = sum(A_j for every j)``. A sliding window is the rule with one tier: ``used`` is
``total`` and nothing is reserved, so it admits iff ``total + weight <= limit``.

A refused request is ``SHED`` when the limit still had room for it before the reservation
(``total + weight <= limit``) or when it and the less critical tiers have not used the limit
(``used + weight <= limit``): capacity went to, or is kept for, more critical tiers. Otherwise
it is ``RATE_LIMIT``: the tier and those below it used the whole limit, and only time frees it.
"""

from __future__ import annotations

ADMIT = 0
"""Verdict: admit the request."""
SHED = 1
"""Verdict: refuse it, the capacity went or is kept for more critical tiers."""
RATE_LIMIT = 2
"""Verdict: refuse it, the limit is used up by its tier and the less critical ones."""


def admission(limit: float, weight: float, total: float, used: float, reserved: float) -> int:
    """The verdict (:data:`ADMIT`, :data:`SHED` or :data:`RATE_LIMIT`) of the rule above for
    a request weighing ``weight`` given ``total``, ``used`` and ``reserved`` (request counts;
    ``limit`` per window). Pure: counts nothing. ``reserved = math.inf`` gives the reason of
    a request some other evaluation of the rule (the Redis script) refused."""
    if total + weight <= limit:
        return ADMIT if used + weight <= limit - reserved else SHED
    return SHED if used + weight <= limit else RATE_LIMIT
