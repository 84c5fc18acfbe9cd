"""Steady traffic for the limiter tests: a fixed number of requests per tier in every slot."""

from __future__ import annotations

import random
from collections.abc import Sequence

from resilience.algorithms import TieredLimiter
from resilience.testing import ManualClock


def arrivals(per_slot: Sequence[int], order: random.Random | None) -> list[int]:
    """One slot's arrivals as tiers (1..4): interleaved evenly, or shuffled by ``order``."""
    tiers = [tier for tier, count in enumerate(per_slot, start=1) for _ in range(count)]
    if order is not None:
        order.shuffle(tiers)
        return tiers
    # Even interleaving: sort by each request's fractional position within its own tier.
    positions = [
        ((index + 0.5) / count, tier)
        for tier, count in enumerate(per_slot, start=1)
        for index in range(count)
    ]
    return [tier for _, tier in sorted(positions)]


def run_slots(
    limiter: TieredLimiter,
    clock: ManualClock,
    per_slot: Sequence[int],
    slots: int,
    order: random.Random | None = None,
) -> list[tuple[list[int], list[int]]]:
    """Send ``per_slot[t]`` requests of tier t + 1 in each of ``slots`` slots, spread over the
    slot; return each slot's (admitted, rejected) counts per tier."""
    slot = limiter.window / limiter.buckets
    start = round(clock() / slot)
    outcomes = []
    for step in range(slots):
        admitted, rejected = [0] * 4, [0] * 4
        tiers = arrivals(per_slot, order)
        for index, tier in enumerate(tiers):
            clock.set((start + step + index / (len(tiers) + 1)) * slot)
            if limiter.try_acquire(tier).allowed:
                admitted[tier - 1] += 1
            else:
                rejected[tier - 1] += 1
        outcomes.append((admitted, rejected))
    clock.set((start + slots) * slot)
    return outcomes
