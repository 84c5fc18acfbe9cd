"""SlidingWindowLimiter: admits up to the limit per sliding window and says when to retry."""

from __future__ import annotations

from datetime import timedelta

import pytest

from resilience.algorithms import ALLOWED, SlidingWindowLimiter
from resilience.testing import ManualClock


def test_admits_up_to_the_limit_then_rejects_until_the_oldest_slot_expires() -> None:
    clock = ManualClock()
    limiter = SlidingWindowLimiter(5, window=1.0, buckets=10, clock=clock)
    assert all(limiter.try_acquire() is ALLOWED for _ in range(5))
    clock.advance(0.35)
    decision = limiter.try_acquire()
    assert not decision.allowed
    assert decision.reason == "rate_limit"
    assert decision.retry_after == pytest.approx(0.65)
    clock.advance(0.65)
    assert limiter.try_acquire().allowed


def test_rejected_requests_are_not_counted() -> None:
    clock = ManualClock()
    limiter = SlidingWindowLimiter(3, clock=clock)
    for _ in range(10):
        limiter.try_acquire()
    assert limiter.count == 3


def test_the_window_slides_slot_by_slot() -> None:
    clock = ManualClock()
    limiter = SlidingWindowLimiter(5, window=1.0, buckets=10, clock=clock)
    for _ in range(3):
        limiter.try_acquire()
    clock.set(0.5)
    assert limiter.try_acquire(2).allowed
    clock.set(0.95)
    decision = limiter.try_acquire()
    assert decision.retry_after == pytest.approx(0.05)  # slot 0 leaves at t = 1.0
    clock.set(1.0)
    assert limiter.count == 2
    assert limiter.try_acquire(3).allowed
    assert not limiter.try_acquire().allowed


def test_retry_after_waits_for_as_many_slots_as_the_weight_needs() -> None:
    clock = ManualClock()
    limiter = SlidingWindowLimiter(5, window=1.0, buckets=10, clock=clock)
    for at, weight in ((0.0, 1), (0.1, 1), (0.2, 3)):
        clock.set(at)
        assert limiter.try_acquire(weight).allowed
    clock.set(0.5)
    decision = limiter.try_acquire(2)
    assert decision.retry_after == pytest.approx(0.6)  # slots 0 and 1 must both leave
    clock.set(1.05)
    assert not limiter.try_acquire(2).allowed
    clock.set(1.1)
    assert limiter.try_acquire(2).allowed


def test_a_weight_above_the_limit_is_never_admitted() -> None:
    limiter = SlidingWindowLimiter(3, clock=ManualClock())
    decision = limiter.try_acquire(4)
    assert (decision.allowed, decision.retry_after, decision.reason) == (False, None, "rate_limit")


def test_limit_zero_rejects_everything() -> None:
    limiter = SlidingWindowLimiter(0, clock=ManualClock())
    assert limiter.try_acquire().retry_after is None


def test_a_weight_below_one_is_refused() -> None:
    limiter = SlidingWindowLimiter(3, clock=ManualClock())
    with pytest.raises(ValueError, match="n must be >= 1"):
        limiter.try_acquire(0)


def test_window_accepts_a_timedelta() -> None:
    limiter = SlidingWindowLimiter(3, timedelta(milliseconds=500), clock=ManualClock())
    assert limiter.window == 0.5
    assert repr(limiter) == "SlidingWindowLimiter(limit=3, window=0.5, buckets=10)"
