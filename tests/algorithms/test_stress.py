"""16 threads at once on one instance: no exception, nothing counted twice or lost."""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Callable, Iterator

import pytest

from resilience.algorithms import (
    AdaptiveRetryWindow,
    EmaTimeout,
    OverloadGuard,
    SlidingWindowLimiter,
    SreBreaker,
    TieredLimiter,
)
from resilience.testing import ManualClock

from .fakes import FakeCpu

THREADS = 16
CALLS = 5000
"""Per thread: 80,000 calls in all, well under a second per class here."""


@pytest.fixture(autouse=True)
def frequent_thread_switches() -> Iterator[None]:
    """Switch threads every 10 us instead of 5 ms so that calls really interleave."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(previous)


def hammer(work: Callable[[int], int]) -> list[int]:
    """Run ``work(thread_index)`` on 16 threads released together; return each one's result
    and re-raise the first exception any of them hit."""
    start = threading.Barrier(THREADS)
    results = [0] * THREADS
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            start.wait()
            results[index] = work(index)
        except BaseException as error:  # handed to the main thread below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    if errors:
        raise errors[0]
    return results


def test_sliding_window_admits_exactly_the_limit() -> None:
    limiter = SlidingWindowLimiter(10_000, clock=ManualClock(5.0))
    admitted = hammer(lambda _: sum(limiter.try_acquire().allowed for _ in range(CALLS)))
    assert sum(admitted) == 10_000 == limiter.count


def test_tiered_admits_exactly_the_limit_across_tiers() -> None:
    limiter = TieredLimiter(10_000, clock=ManualClock(5.0))
    admitted = hammer(
        lambda index: sum(limiter.try_acquire(index % 4 + 1).allowed for _ in range(CALLS))
    )
    assert sum(admitted) == 10_000 == limiter.count
    assert sum(stats.admitted for stats in limiter.snapshot()) == 10_000


def test_breaker_counts_every_call_and_every_success() -> None:
    clock = ManualClock(5.0)
    breaker = SreBreaker(min_requests=0, clock=clock, rng=random.Random(7))

    def work(index: int) -> int:
        successes = 0
        for call in range(CALLS):
            if breaker.try_acquire().allowed:
                success = bool((index + call) % 3)
                breaker.record(success)
                successes += success
            if index == 0 and call % 100 == 0:
                clock.advance(0.01)
        return successes

    successes = hammer(work)
    assert breaker.counts() == (THREADS * CALLS, sum(successes))
    assert 0.0 <= breaker.drop_probability <= 0.9


def test_ema_timeout_stays_in_bounds_and_loses_no_sample() -> None:
    timeout = EmaTimeout(n=999_999)  # r = 2e-6: the average moves a little with each sample

    def work(index: int) -> int:
        for _ in range(CALLS):
            timeout.observe(1.0)
            assert 0.25 <= timeout.timeout() <= 0.5
        return 0

    hammer(work)
    # Every sample is 1.0, so after N of them ema = 1 - (1 - r)^N whatever their order.
    assert timeout.ema == pytest.approx(1 - (1 - 2e-6) ** (THREADS * CALLS), rel=1e-7)


def test_retry_window_grants_exactly_the_window_per_period() -> None:
    clock = ManualClock()
    window = AdaptiveRetryWindow(initial=500, clock=clock)

    def work(index: int) -> int:
        granted = 0
        for _ in range(CALLS):
            window.record_request()
            if window.try_acquire().allowed:
                granted += 1
                window.record_retry(True)
        return granted

    granted = hammer(work)
    assert sum(granted) == 500
    assert window.period_counts() == (THREADS * CALLS, 500, 1.0)


def test_overload_guard_returns_to_zero_in_flight() -> None:
    clock = ManualClock()
    guard = OverloadGuard(cpu_sampler=FakeCpu(0.99), decay=0.0, clock=clock)

    def work(index: int) -> int:
        admitted = 0
        for call in range(CALLS):
            if guard.try_acquire(index % 4 + 1).allowed:
                admitted += 1
                guard.release(0.001)
            if index == 0 and call % 50 == 0:
                clock.advance(0.1)
        return admitted

    hammer(work)
    assert guard.inflight == 0
