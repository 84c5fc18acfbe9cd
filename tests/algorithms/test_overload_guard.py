"""OverloadGuard: sheds the least critical tiers first, only when CPU is hot and calls pile up."""

from __future__ import annotations

import pytest

from resilience.algorithms import ALLOWED, OverloadGuard
from resilience.testing import ManualClock

from .fakes import FakeCpu


def guard_with_capacity_ten(clock: ManualClock, cpu: FakeCpu) -> OverloadGuard:
    """A guard whose last window completed 10 calls per 1 s slot, each taking 1 s: by Little's
    law 10 calls are in flight at once (10 calls x 1 s x 1 slot per second)."""
    guard = OverloadGuard(window=10.0, buckets=10, cpu_sampler=cpu, decay=0.0, clock=clock)
    for _ in range(10):
        for _ in range(10):
            assert guard.try_acquire(1) is ALLOWED
            guard.release(1.0)
        clock.advance(1.0)
    assert guard.max_inflight == pytest.approx(10.0)
    return guard


def fill(guard: OverloadGuard, tier: int, calls: int) -> int:
    """Try ``calls`` calls of ``tier`` without releasing them; return how many were admitted."""
    return sum(guard.try_acquire(tier).allowed for _ in range(calls))


def test_a_hot_cpu_sheds_calls_beyond_the_in_flight_capacity() -> None:
    clock, cpu = ManualClock(), FakeCpu(0.0)
    guard = guard_with_capacity_ten(clock, cpu)
    cpu.utilization = 0.82
    clock.advance(0.5)  # the next call samples the CPU
    assert fill(guard, tier=4, calls=15) == 11  # admitted while inflight <= 10
    shed = guard.try_acquire(4)
    assert (shed.allowed, shed.retry_after, shed.reason) == (False, None, "overload")
    assert guard.try_acquire(3).allowed  # 0.82 is below tier 3's threshold of 0.85


def test_tiers_are_shed_from_least_to_most_critical() -> None:
    clock, cpu = ManualClock(), FakeCpu(0.0)
    guard = guard_with_capacity_ten(clock, cpu)
    cpu.utilization = 0.92
    clock.advance(0.5)
    fill(guard, tier=1, calls=20)
    assert [guard.try_acquire(tier).allowed for tier in (1, 2, 3, 4)] == [True, False, False, False]


def test_a_cool_calm_cpu_never_sheds() -> None:
    clock, cpu = ManualClock(), FakeCpu(0.0)
    guard = guard_with_capacity_ten(clock, cpu)
    assert fill(guard, tier=4, calls=100) == 100


def test_no_completed_call_in_the_window_means_no_estimate_and_no_shedding() -> None:
    clock = ManualClock()
    guard = OverloadGuard(cpu_sampler=FakeCpu(1.0), decay=0.0, clock=clock)
    assert fill(guard, tier=4, calls=100) == 100
    assert guard.max_inflight == float("inf")


def test_shedding_continues_through_the_cool_down_then_stops() -> None:
    clock, cpu = ManualClock(), FakeCpu(0.0)
    guard = guard_with_capacity_ten(clock, cpu)
    cpu.utilization = 0.9
    clock.advance(0.5)
    fill(guard, tier=4, calls=12)  # shedding starts now
    cpu.utilization = 0.5
    clock.advance(0.5)
    assert not guard.try_acquire(4).allowed  # CPU is calm but the cool-down holds
    clock.advance(0.6)
    assert guard.try_acquire(4).allowed


def test_cpu_is_sampled_at_most_every_interval_and_smoothed() -> None:
    clock, cpu = ManualClock(), FakeCpu(1.0)
    guard = OverloadGuard(cpu_sampler=cpu, clock=clock)
    for _ in range(10):
        guard.try_acquire(1)
        clock.advance(0.1)
    assert cpu.calls == 2  # at t = 0.0 and t = 0.5
    assert guard.cpu == pytest.approx(0.05 + 0.95 * 0.05)


@pytest.mark.parametrize("reading", [float("nan"), 1.5, -0.1])
def test_an_impossible_reading_is_skipped(reading: float) -> None:
    guard = OverloadGuard(cpu_sampler=lambda: reading, clock=ManualClock())
    assert guard.try_acquire(1).allowed
    assert guard.cpu == 0.0


def test_a_failing_sampler_never_fails_the_call() -> None:
    def broken() -> float:
        raise RuntimeError("no CPU for you")

    guard = OverloadGuard(cpu_sampler=broken, clock=ManualClock())
    assert guard.try_acquire(2).allowed


def test_release_ends_a_call_and_never_drives_inflight_below_zero() -> None:
    guard = OverloadGuard(cpu_sampler=FakeCpu(), clock=ManualClock())
    guard.try_acquire(1)
    guard.release(0.01)
    guard.release(0.01)
    assert guard.inflight == 0


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ({1: 0.9, 2: 0.9, 3: 0.9}, "cpu_thresholds must map each tier"),
        ({1: 0.8, 2: 0.9, 3: 0.7, 4: 0.6}, r"cpu_thresholds\[2\] must be <= cpu_thresholds\[1\]"),
        ({1: 1.2, 2: 0.9, 3: 0.8, 4: 0.7}, r"cpu_thresholds\[1\] must be in \(0, 1\]"),
    ],
)
def test_bad_thresholds_are_refused(thresholds: dict[int, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OverloadGuard(thresholds, cpu_sampler=FakeCpu())


def test_an_unknown_tier_is_refused() -> None:
    with pytest.raises(ValueError, match=r"tier must be in 1\.\.4"):
        OverloadGuard(cpu_sampler=FakeCpu(), clock=ManualClock()).try_acquire(0)


@pytest.mark.parametrize("latency", [-1.0, float("nan")])
def test_a_negative_or_nan_latency_is_refused(latency: float) -> None:
    guard = OverloadGuard(cpu_sampler=FakeCpu(), clock=ManualClock())
    guard.try_acquire(1)
    with pytest.raises(ValueError, match="latency must be >= 0"):
        guard.release(latency)


def test_shedding_tiers_name_the_tiers_shed_now_and_clear_once_calm() -> None:
    clock, cpu = ManualClock(), FakeCpu(0.0)
    guard = guard_with_capacity_ten(clock, cpu)
    assert guard.shedding_tiers() == ()
    cpu.utilization = 0.92
    clock.advance(0.5)
    fill(guard, tier=1, calls=20)
    assert not guard.try_acquire(2).allowed
    assert guard.shedding_tiers() == (2, 3, 4)
    cpu.utilization = 0.0
    clock.advance(0.5)
    guard.try_acquire(1)  # samples the cool CPU (decay 0: the average is the sample)
    clock.advance(1.5)  # past the 1 s cool-down
    assert guard.shedding_tiers() == ()
