"""TieredLimiter: critical tiers keep the capacity they need; the rest is shared down the tiers."""

from __future__ import annotations

import pytest

from resilience.algorithms import Tier, TieredLimiter, TierStats
from resilience.testing import ManualClock

from .traffic import run_slots


def admitted_in_last_window(outcomes: list[tuple[list[int], list[int]]]) -> list[int]:
    return [sum(admitted[tier] for admitted, _ in outcomes[-10:]) for tier in range(4)]


def test_worked_steady_state_admits_50_40_10_0() -> None:
    clock = ManualClock()
    limiter = TieredLimiter(100, window=1.0, buckets=10, clock=clock)
    # 50, 40, 40 and 100 requests per second for tiers 1..4, spread over every 0.1 s slot.
    outcomes = run_slots(limiter, clock, per_slot=(5, 4, 4, 10), slots=40)
    assert admitted_in_last_window(outcomes) == [50, 40, 10, 0]


def test_tier_one_demand_above_the_limit_takes_everything() -> None:
    clock = ManualClock()
    limiter = TieredLimiter(100, window=1.0, buckets=10, clock=clock)
    outcomes = run_slots(limiter, clock, per_slot=(15, 1, 1, 1), slots=40)
    assert admitted_in_last_window(outcomes) == [100, 0, 0, 0]


def test_capacity_demanded_by_critical_tiers_in_the_last_window_is_reserved() -> None:
    clock = ManualClock()
    limiter = TieredLimiter(10, window=1.0, buckets=10, clock=clock)
    for _ in range(8):
        assert limiter.try_acquire(Tier.CRITICAL).allowed
    clock.set(1.0)  # tier 1 asked for 8 in the last complete window: 2 remain for tier 3
    assert limiter.try_acquire(3).allowed
    assert limiter.try_acquire(3).allowed
    shed = limiter.try_acquire(3)
    assert (shed.allowed, shed.retry_after, shed.reason) == (False, None, "shed")
    assert limiter.try_acquire(1).allowed


def test_a_tier_that_used_the_whole_limit_is_rate_limited_with_retry_after() -> None:
    clock = ManualClock()
    limiter = TieredLimiter(4, window=1.0, buckets=10, clock=clock)
    for _ in range(4):
        limiter.try_acquire(2)
    clock.set(0.25)
    decision = limiter.try_acquire(2)
    assert decision.reason == "rate_limit"
    assert decision.retry_after == pytest.approx(0.75)


def test_the_total_stays_within_the_limit_when_critical_demand_surges() -> None:
    clock = ManualClock()
    limiter = TieredLimiter(100, window=1.0, buckets=10, clock=clock)
    for _ in range(50):
        assert limiter.try_acquire(1).allowed
    # Tier 1's reservation still reads the (empty) last window; tier 4 gets only what is left.
    admitted = sum(limiter.try_acquire(4).allowed for _ in range(100))
    assert admitted == 50
    assert limiter.count == 100


def test_snapshot_reports_the_rule_inputs_per_tier() -> None:
    clock = ManualClock()
    limiter = TieredLimiter(3, window=1.0, buckets=10, clock=clock)
    for tier in (1, 1, 4, 4, 4):
        limiter.try_acquire(tier)
    clock.set(1.0)
    limiter.try_acquire(2)
    assert limiter.snapshot() == (
        TierStats(Tier.CRITICAL, admitted=0, demand=2),
        TierStats(Tier.IMPORTANT, admitted=1, demand=0),
        TierStats(Tier.SECONDARY, admitted=0, demand=0),
        TierStats(Tier.BEST_EFFORT, admitted=0, demand=3),
    )


@pytest.mark.parametrize(("tier", "n"), [(0, 1), (5, 1), (1, 0)])
def test_bad_tier_or_weight_is_refused(tier: int, n: int) -> None:
    with pytest.raises(ValueError, match=r"tier must be in 1\.\.4 and n >= 1"):
        TieredLimiter(10, clock=ManualClock()).try_acquire(tier, n)
