"""The asyncio limiters: the same decisions as the memory algorithms over redis.asyncio, a
background sync task, and a fallback that never blocks the event loop."""

from __future__ import annotations

import asyncio

import pytest

from resilience._base.clock import ManualClock
from resilience.algorithms import SlidingWindowLimiter, TieredLimiter
from resilience.backends import (
    AioRedisStore,
    AioSharedSlidingWindowLimiter,
    AioSharedTieredLimiter,
)
from timing import Stopwatch

from .conftest import free_port
from .traces import BUCKETS, LIMIT, WINDOW, sync_after, trace


@pytest.mark.asyncio
@pytest.mark.parametrize("mode", ["exact", "periodic-every-7"])
@pytest.mark.parametrize("tiered", [False, True], ids=["sliding", "tiered"])
async def test_every_decision_matches_the_memory_algorithm(
    redis_url: str, prefix: str, mode: str, tiered: bool
) -> None:
    clock = ManualClock(100.0)
    store = AioRedisStore.from_url(redis_url, prefix=prefix, clock=clock, socket_timeout=2.0)
    kind = AioSharedTieredLimiter if tiered else AioSharedSlidingWindowLimiter
    shared = kind(
        store,
        name="aio",
        limit=LIMIT,
        window=WINDOW,
        buckets=BUCKETS,
        mode="exact" if mode == "exact" else "periodic",
        sync_interval=3600,
        clock=clock,
    )
    reference_tiered = TieredLimiter(LIMIT, WINDOW, BUCKETS, clock=clock)
    reference_sliding = SlidingWindowLimiter(LIMIT, WINDOW, BUCKETS, clock=clock)
    try:
        for index, step in enumerate(trace(4)):
            clock.advance(step.advance_ms / 1000)
            if isinstance(shared, AioSharedTieredLimiter):
                expected = reference_tiered.try_acquire(step.tier, step.n)
                got = await shared.try_acquire(step.tier, step.n)
            else:
                expected = reference_sliding.try_acquire(step.n)
                got = await shared.try_acquire(step.n)
            assert (got.allowed, got.reason) == (expected.allowed, expected.reason), index
            assert got.retry_after == pytest.approx(expected.retry_after, abs=1e-6), index
            if sync_after(mode, index):
                assert await shared.sync_now()
    finally:
        await shared.aclose()
        await store.close()


@pytest.mark.asyncio
async def test_periodic_mode_syncs_in_a_task_and_decides_without_awaiting(
    redis_url: str, prefix: str
) -> None:
    stores = [AioRedisStore.from_url(redis_url, prefix=prefix, socket_timeout=0.5) for _ in "ab"]
    first, second = (
        AioSharedSlidingWindowLimiter(store, name="tasks", limit=50, sync_interval=0.02)
        for store in stores
    )
    admitted = int(second.decide_nowait().allowed)  # starts its sync task: it registers
    for _ in range(30):
        admitted += first.decide_nowait().allowed
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.1)  # a few syncs: `second` learns what `first` admitted
    for _ in range(40):
        admitted += second.decide_nowait().allowed
        await asyncio.sleep(0.005)
    # Periodic mode errs on the safe side while `second` learns its share of the demand.
    assert 45 <= admitted <= 50
    assert not first.fallback
    assert not second.fallback
    for limiter, store in zip((first, second), stores, strict=True):
        await limiter.aclose()
        await store.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("mode", ["exact", "periodic"])
async def test_an_unreachable_redis_falls_back_without_blocking_the_loop(mode: str) -> None:
    store = AioRedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0")
    limiter = AioSharedSlidingWindowLimiter(
        store,
        name="down",
        limit=10,
        mode="exact" if mode == "exact" else "periodic",
        expected_instances=2,
        sync_interval=0.01,
    )
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    beat = asyncio.create_task(ticker())
    try:
        with Stopwatch() as watch:
            decisions = [await limiter.try_acquire() for _ in range(10)]
            await asyncio.sleep(0.05)
        assert limiter.fallback
        assert [d.allowed for d in decisions] == [True] * 5 + [False] * 5  # limit 10 / 2
        assert ticks >= 5  # the loop kept running meanwhile
        watch.within(0.5, "10 decisions against a refused connection and a 50 ms sleep")
    finally:
        beat.cancel()
        await limiter.aclose()
        await store.close()
