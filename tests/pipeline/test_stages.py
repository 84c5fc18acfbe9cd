"""The admission stages over each limiter kind and the overload guard."""

from __future__ import annotations

import asyncio

import pytest

from resilience.algorithms import OverloadGuard, SlidingWindowLimiter, TieredLimiter
from resilience.backends import (
    AioMemoryStore,
    AioSharedSlidingWindowLimiter,
    MemoryStore,
    SharedSlidingWindowLimiter,
    SharedTieredLimiter,
)
from resilience.context import tier
from resilience.pipeline import Attempt, Overload, RateLimit, Rejected, Rejection, SyncStage

from .helpers import Rig


def test_local_limit_refuses_with_retry_after(r: Rig) -> None:
    pipe = r.pipeline([RateLimit(SlidingWindowLimiter(2, clock=r.clock))])
    pipe.call(lambda: None)
    pipe.call(lambda: None)
    with pytest.raises(Rejected) as caught:
        pipe.call(lambda: None)
    assert caught.value.reason == "rate_limit"
    assert caught.value.retry_after is not None


def test_tiered_limit_uses_the_call_s_tier(r: Rig) -> None:
    limiter = TieredLimiter(10, clock=r.clock)
    pipe = r.pipeline([RateLimit(limiter)])
    with tier(1):
        pipe.call(lambda: None)
    pipe.call(lambda: None)  # the pipeline's default tier, 2
    stats = {int(s.tier): s.admitted for s in limiter.snapshot()}
    assert stats[1] == 1
    assert stats[2] == 1


def test_weight(r: Rig) -> None:
    limiter = SlidingWindowLimiter(10, clock=r.clock)
    r.pipeline([RateLimit(limiter, weight=4)]).call(lambda: None)
    assert limiter.count == 4


def test_shared_limiters_through_a_store(r: Rig) -> None:
    store = MemoryStore(clock=r.clock)
    shared = SharedSlidingWindowLimiter(store, name="dep", limit=1, mode="exact", clock=r.clock)
    tiered = SharedTieredLimiter(store, name="dep-t", limit=5, mode="exact", clock=r.clock)
    pipe = r.pipeline([RateLimit(tiered), RateLimit(shared, name="shared")])
    pipe.call(lambda: None)
    with pytest.raises(Rejected) as caught:
        pipe.call(lambda: None)
    assert caught.value.rejection.stage == "shared"
    shared.close()
    tiered.close()


def test_asyncio_shared_limiter_is_awaited(r: Rig) -> None:
    async def main() -> None:
        store = AioMemoryStore(clock=r.clock)
        limiter = AioSharedSlidingWindowLimiter(
            store, name="dep", limit=1, mode="exact", clock=r.clock
        )
        pipe = r.pipeline([RateLimit(limiter)])
        assert await pipe.acall(asyncio.sleep, 0, "ok") == "ok"
        with pytest.raises(Rejected):
            await pipe.acall(asyncio.sleep, 0)
        with pytest.raises(TypeError, match="event loop"):
            pipe.call(lambda: None)
        await limiter.aclose()

    asyncio.run(main())


def test_limiter_validation() -> None:
    with pytest.raises(TypeError, match="try_acquire"):
        RateLimit(object())
    with pytest.raises(ValueError, match="weight"):
        RateLimit(SlidingWindowLimiter(1), weight=0)


def busy_guard(r: Rig) -> OverloadGuard:
    """A guard on a saturated CPU that has measured a capacity of one call in flight."""
    guard = OverloadGuard(window=1.0, buckets=10, cpu_sampler=lambda: 1.0, decay=0.0, clock=r.clock)
    guard.try_acquire(1)
    r.clock.advance(0.05)
    guard.release(0.1)
    r.clock.advance(0.1)
    return guard


def test_overload_sheds_and_releases(r: Rig) -> None:
    guard = busy_guard(r)
    pipe = r.pipeline([Overload(guard)])
    entered: list[int] = []

    def nested() -> None:
        entered.append(guard.inflight)
        with pytest.raises(Rejected) as caught:
            pipe.call(lambda: None)  # a third in flight: shed
        assert caught.value.reason == "overload"

    pipe.call(pipe.call, nested)
    assert entered == [2]
    assert guard.inflight == 0


def test_overload_permit_not_run_is_abandoned(r: Rig) -> None:
    class Refuse(SyncStage):
        name = "refuse"

        def admit(self, attempt: Attempt) -> Rejection:
            return Rejection("rate_limit")

    guard = OverloadGuard(cpu_sampler=lambda: 0.0, clock=r.clock)
    pipe = r.pipeline([Overload(guard), Refuse()])
    with pytest.raises(Rejected):
        pipe.call(lambda: None)
    assert guard.inflight == 0
    assert guard.max_inflight == float("inf")  # no latency was counted
