"""Invariants that must hold for every history hypothesis can find, checked against models."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from resilience.algorithms import (
    AdaptiveRetryWindow,
    EmaTimeout,
    SlidingWindowLimiter,
    SreBreaker,
    TieredLimiter,
)
from resilience.testing import ManualClock

from .traffic import run_slots

TICKS_PER_SLOT = 4
"""Histories move in quarter slots; slots are 1 s long so every instant is an exact float."""

PROPERTY = settings(max_examples=150, deadline=None)


@PROPERTY
@given(
    limit=st.integers(1, 20),
    buckets=st.integers(1, 8),
    events=st.lists(st.tuples(st.integers(0, 6), st.integers(1, 6)), max_size=120),
)
def test_limiter_matches_the_model_and_never_exceeds_the_limit_in_any_buckets_slots(
    limit: int, buckets: int, events: list[tuple[int, int]]
) -> None:
    clock = ManualClock()
    limiter = SlidingWindowLimiter(limit, window=float(buckets), buckets=buckets, clock=clock)
    admitted: dict[int, int] = {}

    def window_count(slot: int) -> int:
        return sum(admitted.get(s, 0) for s in range(slot - buckets + 1, slot + 1))

    tick = 0
    for gap, weight in events:
        tick += gap
        clock.set(tick / TICKS_PER_SLOT)
        slot = tick // TICKS_PER_SLOT
        expected = window_count(slot) + weight <= limit
        decision = limiter.try_acquire(weight)
        assert decision.allowed is expected
        if decision.allowed:
            admitted[slot] = admitted.get(slot, 0) + weight
        elif weight <= limit:
            # retry_after points exactly at the first slot whose window admits the weight.
            later = range(slot + 1, slot + buckets + 1)
            first = next(s for s in later if window_count(s) + weight <= limit)
            assert decision.retry_after == clock_distance(first, tick)
        assert limiter.count == window_count(slot)
    last = max(admitted, default=0)
    assert all(window_count(end) <= limit for end in range(last + buckets))


def clock_distance(slot: int, tick: int) -> float:
    return slot - tick / TICKS_PER_SLOT


@PROPERTY
@given(
    limit=st.integers(1, 60),
    buckets=st.integers(1, 6),
    per_slot=st.tuples(*[st.integers(0, 12)] * 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_tiered_never_admits_a_tier_while_rejecting_a_more_critical_one_in_steady_state(
    limit: int, buckets: int, per_slot: tuple[int, int, int, int], seed: int
) -> None:
    clock = ManualClock()
    limiter = TieredLimiter(limit, window=float(buckets), buckets=buckets, clock=clock)
    outcomes = run_slots(limiter, clock, per_slot, slots=4 * buckets, order=random.Random(seed))
    for admitted, rejected in outcomes[2 * buckets :]:
        for tier in range(4):
            if rejected[tier]:
                assert not any(admitted[tier + 1 :]), (admitted, rejected)
    totals = [sum(admitted) for admitted, _ in outcomes]
    assert all(sum(totals[end - buckets : end]) <= limit for end in range(buckets, len(totals)))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), others=st.tuples(*[st.integers(0, 5)] * 3))
def test_tiered_reaches_the_worked_steady_states_whatever_the_arrival_order(
    seed: int, others: tuple[int, int, int]
) -> None:
    for per_slot, expected in (((5, 4, 4, 10), [50, 40, 10, 0]), ((15, *others), [100, 0, 0, 0])):
        clock = ManualClock()
        limiter = TieredLimiter(100, window=1.0, buckets=10, clock=clock)
        outcomes = run_slots(limiter, clock, per_slot, slots=30, order=random.Random(seed))
        assert [sum(a[tier] for a, _ in outcomes[-10:]) for tier in range(4)] == expected


@PROPERTY
@given(
    k=st.floats(1.0, 3.0),
    min_requests=st.integers(0, 10),
    max_drop=st.floats(0.0, 1.0),
    history=st.lists(st.tuples(st.sampled_from("arf"), st.integers(0, 3)), max_size=150),
    seed=st.integers(0, 2**32 - 1),
)
def test_breaker_drop_probability_is_the_formula_over_the_window_counts(
    k: float, min_requests: int, max_drop: float, history: list[tuple[str, int]], seed: int
) -> None:
    buckets = 5
    clock = ManualClock()
    breaker = SreBreaker(
        k, float(buckets), buckets, min_requests, max_drop, clock=clock, rng=random.Random(seed)
    )
    requests: list[int] = []
    accepts: list[int] = []
    tick = 0
    for operation, gap in history:
        tick += gap
        clock.set(tick / TICKS_PER_SLOT)
        slot = tick // TICKS_PER_SLOT
        if operation == "a":
            if not breaker.try_acquire().allowed:
                requests.append(slot)  # a drop counts at once; an admitted call at its outcome
        else:
            breaker.record(operation == "r")
            requests.append(slot)
            if operation == "r":
                accepts.append(slot)
        in_window_requests = sum(slot - s < buckets for s in requests)
        in_window_accepts = sum(slot - s < buckets for s in accepts)
        p = max(0.0, (in_window_requests - k * in_window_accepts) / (in_window_requests + 1))
        expected = 0.0 if in_window_requests < min_requests else min(p, max_drop)
        assert breaker.counts() == (in_window_requests, in_window_accepts)
        assert math.isclose(breaker.drop_probability, expected, abs_tol=1e-12)


@PROPERTY
@given(
    initial=st.integers(1, 20),
    max_window=st.none() | st.integers(20, 60),
    periods=st.lists(
        st.tuples(
            st.integers(0, 3000),  # local requests
            st.integers(0, 80),  # retries wanted
            st.floats(0.0, 1.0),  # their success rate
            st.integers(1, 3),  # periods until the next active one
        ),
        max_size=25,
    ),
)
def test_retry_window_follows_the_recurrence_period_by_period(
    initial: int, max_window: int | None, periods: list[tuple[int, int, float, int]]
) -> None:
    clock = ManualClock()
    window = AdaptiveRetryWindow(1.0, 0.98, 0.01, initial, max_window, clock=clock)
    f = initial
    for requests, wanted, success_rate, gap in periods:
        assert window.window == f
        for _ in range(requests):
            window.record_request()
        granted = sum(window.try_acquire().allowed for _ in range(wanted))
        assert granted == min(wanted, f)
        successes = round(success_rate * granted)
        for index in range(granted):
            window.record_retry(index < successes)
        s = successes / granted if granted else 1.0
        if s >= 0.98:
            if granted >= f:
                f = f + max(min(math.floor(0.01 * requests), f), 1)
        else:
            f = max(1, f // 2)
        if max_window is not None:
            f = min(f, max_window)
        clock.advance(float(gap))
    assert window.window == f


@PROPERTY
@given(
    bounds=st.tuples(st.floats(0.0, 1.0), st.floats(0.001, 1.0), st.floats(0.0, 1.0)),
    n=st.integers(1, 200),
    samples=st.lists(st.tuples(st.floats(0.0, 5.0), st.booleans()), max_size=100),
)
def test_ema_timeout_stays_within_the_high_water_mark_and_the_maximum(
    bounds: tuple[float, float, float], n: int, samples: list[tuple[float, bool]]
) -> None:
    t_avg, above_avg, above_hwm = bounds
    t_hwm = t_avg + above_avg
    t_max = t_hwm + above_hwm
    timeout = EmaTimeout(t_avg, t_hwm, t_max, n)
    r = 2 / (n + 1)
    ema = 0.0
    for latency, ok in samples:
        timeout.observe(latency, ok)
        ema = r * (latency if ok else max(latency, t_max)) + (1 - r) * ema
        assert math.isclose(timeout.ema, ema, rel_tol=1e-9, abs_tol=1e-12)
        assert t_hwm <= timeout.timeout() <= t_max
