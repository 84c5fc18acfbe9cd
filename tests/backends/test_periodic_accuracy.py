"""Periodic mode shares one limit between instances that sync every 100 ms, deterministically:
several limiters on one MemoryStore, a ManualClock, syncs at staggered phases. (The same with
real processes and Redis is in test_processes.py.)"""

from __future__ import annotations

import bisect

import pytest

from resilience._base.clock import ManualClock
from resilience.backends import MemoryStore, SharedSlidingWindowLimiter, SharedTieredLimiter

TICK = 0.001


def admitted_per_window(times: list[float], start: float, end: float) -> tuple[int, int]:
    """(fewest, most) admissions in any 1 s window starting in [start, end - 1], 10 ms steps."""
    times.sort()
    counts = []
    at = start
    while at + 1.0 <= end:
        counts.append(bisect.bisect_left(times, at + 1.0) - bisect.bisect_left(times, at))
        at += 0.01
    return min(counts), max(counts)


@pytest.mark.parametrize(
    "demands",
    [(1000, 1000, 1000, 1000), (20_000,) * 4, (4000, 0, 0, 0), (3000, 1000, 500), (600,) * 3],
    ids=["2x-overload", "40x-overload", "one-busy", "skewed", "under-limit"],
)
def test_instances_share_the_limit_within_5_percent(demands: tuple[int, ...]) -> None:
    clock = ManualClock(100.0)
    store = MemoryStore(clock=clock)
    limiters = [
        SharedSlidingWindowLimiter(
            store, name="shared", limit=2000, sync_interval=3600, clock=clock
        )
        for _ in demands
    ]
    owed = [0.0] * len(demands)
    admitted: list[float] = []
    for tick in range(5000):
        clock.advance(TICK)
        for i, limiter in enumerate(limiters):
            owed[i] += demands[i] * TICK
            while owed[i] >= 1:
                owed[i] -= 1
                if limiter.try_acquire().allowed:
                    admitted.append(clock())
            if tick % 100 == 100 * i // len(demands):
                limiter.sync_now()
    expected = min(2000, sum(demands))
    fewest, most = admitted_per_window(admitted, 101.5, 105.0)
    assert expected * 0.95 <= fewest <= most <= expected * 1.05


def test_three_gateways_reach_the_tiered_steady_state() -> None:
    """The worked steady state scaled by 10 (limit 1,000/s; tier demand 500/400/400/1,000 per
    second split among 3 instances): admitted 500/400/100/0 per second, within 5% of the limit.
    (At limit 100 a few requests of estimation error are already 3-5% of it.)"""
    clock = ManualClock(100.0)
    store = MemoryStore(clock=clock)
    gateways = [
        SharedTieredLimiter(store, name="gateway", limit=1000, sync_interval=3600, clock=clock)
        for _ in range(3)
    ]
    demand = {1: 500, 2: 400, 3: 400, 4: 1000}
    owed = {(g, tier): 0.0 for g in range(3) for tier in demand}
    admitted = dict.fromkeys(demand, 0)
    for tick in range(8000):
        clock.advance(TICK)
        for g, gateway in enumerate(gateways):
            for tier, per_second in demand.items():
                owed[g, tier] += per_second / 3 * TICK
                while owed[g, tier] >= 1:
                    owed[g, tier] -= 1
                    allowed = gateway.try_acquire(tier).allowed
                    admitted[tier] += int(allowed and tick >= 3000)
            if tick % 100 == 33 * g:
                gateway.sync_now()
    rates = {tier: count / 5 for tier, count in admitted.items()}
    assert rates == pytest.approx({1: 500, 2: 400, 3: 100, 4: 0}, abs=50)
