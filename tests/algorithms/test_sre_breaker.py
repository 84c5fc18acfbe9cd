"""SreBreaker: drops the share of calls the callee is failing, never all, and notices recovery."""

from __future__ import annotations

import pytest

from resilience.algorithms import ALLOWED, BreakerState, SreBreaker
from resilience.testing import ManualClock

from .fakes import FixedRandom


def make(clock: ManualClock, draw: float, **settings: float) -> SreBreaker:
    return SreBreaker(clock=clock, rng=FixedRandom(draw), **settings)  # type: ignore[arg-type]


def test_drops_nothing_before_min_requests() -> None:
    breaker = make(ManualClock(), draw=0.0, min_requests=20)
    for _ in range(20):
        assert breaker.try_acquire() is ALLOWED
        breaker.record(False)
    assert breaker.drop_probability > 0
    assert breaker.state is BreakerState.HALF_OPEN


def test_drop_probability_follows_the_formula() -> None:
    breaker = make(ManualClock(), draw=0.999, k=2.0, min_requests=0)
    for index in range(100):
        breaker.try_acquire()
        breaker.record(index < 30)
    assert breaker.counts() == (100, 30)
    assert breaker.drop_probability == pytest.approx((100 - 2.0 * 30) / 101)


def test_a_healthy_callee_keeps_the_breaker_closed() -> None:
    breaker = make(ManualClock(), draw=0.0, min_requests=0)
    for _ in range(100):
        assert breaker.try_acquire() is ALLOWED
        breaker.record(True)
    assert breaker.state is BreakerState.CLOSED


def test_drop_probability_is_capped_by_max_drop() -> None:
    breaker = make(ManualClock(), draw=0.999, max_drop=0.5, min_requests=0)
    for _ in range(100):
        breaker.try_acquire()
        breaker.record(False)
    assert breaker.drop_probability == 0.5


def test_a_drop_says_breaker_and_gives_no_retry_after() -> None:
    clock = ManualClock()
    breaker = make(clock, draw=0.0, min_requests=0, probe_interval=10.0)
    breaker.try_acquire()  # admitted: p was 0
    breaker.record(False)
    decision = breaker.try_acquire()
    assert (decision.allowed, decision.retry_after, decision.reason) == (False, None, "breaker")


def test_calls_in_flight_do_not_count_as_failures() -> None:
    breaker = make(ManualClock(), draw=0.0, min_requests=20)
    assert all(breaker.try_acquire() is ALLOWED for _ in range(200))  # a burst, none finished
    assert breaker.drop_probability == 0.0


def test_one_probe_is_admitted_per_probe_interval_even_at_full_drop() -> None:
    clock = ManualClock()
    breaker = make(clock, draw=0.0, min_requests=0, max_drop=1.0, probe_interval=1.0)
    admitted = 0
    for _ in range(50):  # 5 seconds, a call every 0.1 s, every outcome a failure
        if breaker.try_acquire().allowed:
            admitted += 1
            breaker.record(False)
        clock.advance(0.1)
    assert admitted == 5


def test_recovers_when_failures_leave_the_window() -> None:
    clock = ManualClock()
    breaker = make(clock, draw=0.999, window=10.0, buckets=40, min_requests=0)
    for _ in range(50):
        breaker.try_acquire()
        breaker.record(False)
    failing = breaker.state
    clock.advance(10.0)
    assert breaker.drop_probability == 0.0
    assert (failing, breaker.state) == (BreakerState.HALF_OPEN, BreakerState.CLOSED)


def test_successes_bring_the_drop_probability_down() -> None:
    breaker = make(ManualClock(), draw=0.999, k=2.0, min_requests=0)
    for _ in range(20):
        breaker.try_acquire()
        breaker.record(False)
    failing = breaker.drop_probability
    for _ in range(20):
        breaker.try_acquire()
        breaker.record(True)
    assert breaker.drop_probability == 0.0 < failing


def test_k_below_one_is_refused_because_it_drops_healthy_traffic() -> None:
    with pytest.raises(ValueError, match=r"k must be >= 1, got 0.5"):
        SreBreaker(k=0.5)
