"""The tiered admission rule, the one Python source TieredLimiter and the stores share."""

from __future__ import annotations

import math

import pytest

from resilience._base.clock import ManualClock
from resilience.algorithms import TieredLimiter
from resilience.algorithms._admission import ADMIT, RATE_LIMIT, SHED, admission


@pytest.mark.parametrize(
    ("total", "used", "reserved", "weight", "verdict"),
    [
        (0, 0, 0, 10, ADMIT),  # exactly the limit
        (9, 9, 0, 2, RATE_LIMIT),  # the tier and those below used it
        (5, 2, 4, 1, ADMIT),  # 2 + 1 <= 10 - 4
        (5, 2, 8, 1, SHED),  # room in the total, but kept for more critical tiers
        (10, 3, 0, 1, SHED),  # the total is used up, by more critical tiers
        (10, 10, 0, 1, RATE_LIMIT),
        (0, 0, 0, 11, RATE_LIMIT),  # heavier than the limit: never admitted
    ],
)
def test_verdicts(total: float, used: float, reserved: float, weight: float, verdict: int) -> None:
    assert admission(10, weight, total, used, reserved) == verdict


def test_one_tier_is_the_sliding_window() -> None:
    for count in range(12):
        expected = ADMIT if count + 1 <= 10 else RATE_LIMIT
        assert admission(10, 1, count, count, 0) == expected


def test_everything_reserved_gives_the_reason_of_a_refusal() -> None:
    assert admission(10, 1, 5, 2, math.inf) == SHED
    assert admission(10, 1, 10, 3, math.inf) == SHED
    assert admission(10, 1, 10, 10, math.inf) == RATE_LIMIT


def test_the_limiter_caches_the_reservation_per_slot_and_follows_demand() -> None:
    """The reservation (demand over the last complete window) is computed once per slot: each
    slot change must bring in the demand of the slot that completed and drop the one that left."""
    clock = ManualClock(0.0)
    limiter = TieredLimiter(10, 1.0, 10, clock=clock)
    assert limiter.try_acquire(4).allowed  # caches an empty reservation in slot 0
    for _ in range(7):
        assert limiter.try_acquire(1).allowed
    clock.set(1.0)  # slot 10: slot 0's admissions left the window, its demand is reserved
    assert [limiter.try_acquire(4).allowed for _ in range(3)] == [True, True, True]
    assert limiter.try_acquire(4).reason == "shed"  # 3 + 1 > 10 - 7
    assert limiter.try_acquire(2).reason == "shed"  # tiers 2..4 used 3: 3 + 1 > 10 - 7
    clock.set(1.1)  # slot 0 left the last complete window: only tier 2's demand of 1 is kept
    assert limiter.try_acquire(4).allowed  # 3 + 1 <= 10 - 1
