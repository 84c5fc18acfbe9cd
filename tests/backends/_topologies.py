"""Scenarios the Redis Cluster and TLS suites run alike, for the sync and the asyncio stack.

Every scenario is a coroutine: with the ``sync`` flavour the store and limiter calls simply
block (RedisStore, SharedSlidingWindowLimiter, ...), with ``aio`` they are awaited
(AioRedisStore, AioSharedSlidingWindowLimiter, ...). Two stores built from the same URL stand
for two processes sharing a limit. Time is a ManualClock given to stores and limiters alike.
"""

from __future__ import annotations

import inspect
from typing import Any

from resilience._base.clock import ManualClock
from resilience.algorithms import SlidingWindowLimiter, TieredLimiter
from resilience.algorithms._decision import Decision
from resilience.backends import (
    AioRedisStore,
    AioSharedSlidingWindowLimiter,
    AioSharedTieredLimiter,
    RedisStore,
    SharedSlidingWindowLimiter,
    SharedTieredLimiter,
    build_limiter,
)
from resilience.backends.factory import needs_await
from resilience.policy import Policy

from .traces import BUCKETS, LIMIT, WINDOW, trace

FLAVOURS = ("sync", "aio")


async def settle(value: Any) -> Any:
    """``value``, awaited if it is awaitable (a call of the sync or the asyncio stack)."""
    return await value if inspect.isawaitable(value) else value


def make_store(
    flavour: str, url: str, *, prefix: str, clock: ManualClock, socket_timeout: float = 2.0
) -> Any:
    """A RedisStore (``sync``) or AioRedisStore (``aio``) for ``url``, by default with a
    generous socket timeout (these tests check behaviour, not latency)."""
    kind = AioRedisStore if flavour == "aio" else RedisStore
    return kind.from_url(url, prefix=prefix, clock=clock, socket_timeout=socket_timeout)


def make_limiter(
    flavour: str, store: Any, *, tiered: bool, mode: str, limit: int, clock: ManualClock
) -> Any:
    """A shared limiter named ``limit`` on ``store``; periodic ones are synced by hand."""
    if flavour == "aio":
        kind: Any = AioSharedTieredLimiter if tiered else AioSharedSlidingWindowLimiter
    else:
        kind = SharedTieredLimiter if tiered else SharedSlidingWindowLimiter
    return kind(
        store,
        name="limit",
        limit=limit,
        window=WINDOW,
        buckets=BUCKETS,
        mode=mode,
        sync_interval=3600.0,
        clock=clock,
    )


async def acquire(limiter: Any, tier: int = 1, n: int = 1) -> Decision:
    """One decision of a sync or asyncio, tiered or sliding, shared limiter."""
    if isinstance(limiter, (SharedTieredLimiter, AioSharedTieredLimiter)):
        decision: Decision = await settle(limiter.try_acquire(tier, n))
    else:
        decision = await settle(limiter.try_acquire(n))
    return decision


async def sync_now(limiter: Any) -> bool:
    answered: bool = await settle(limiter.sync_now())
    return answered


async def close(*objects: Any) -> None:
    """Close limiters and stores, awaiting the asyncio ones."""
    for thing in objects:
        closer = getattr(thing, "aclose", None) or thing.close
        await settle(closer())


async def exact_decisions_match_the_memory_algorithm(
    flavour: str, url: str, prefix: str, *, tiered: bool
) -> None:
    """Two stores alternate on one exact-mode limit: every decision (allowed, reason,
    retry_after) equals the in-process algorithm's on the same trace."""
    clock = ManualClock(100.0)
    stores = [make_store(flavour, url, prefix=prefix, clock=clock) for _ in range(2)]
    limiters = [
        make_limiter(flavour, store, tiered=tiered, mode="exact", limit=LIMIT, clock=clock)
        for store in stores
    ]
    tiered_reference = TieredLimiter(LIMIT, WINDOW, BUCKETS, clock=clock)
    sliding_reference = SlidingWindowLimiter(LIMIT, WINDOW, BUCKETS, clock=clock)
    try:
        for index, step in enumerate(trace(5, length=120)):
            clock.advance(step.advance_ms / 1000)
            if tiered:
                expected = tiered_reference.try_acquire(step.tier, step.n)
            else:
                expected = sliding_reference.try_acquire(step.n)
            got = await acquire(limiters[index % 2], step.tier, step.n)
            assert (got.allowed, got.reason) == (expected.allowed, expected.reason), index
            assert got.retry_after == _approx(expected.retry_after), index
        assert not any(limiter.fallback for limiter in limiters)
    finally:
        await close(*limiters, *stores)


def _approx(value: float | None) -> Any:
    import pytest

    return None if value is None else pytest.approx(value, abs=1e-6)


async def periodic_instances_share_the_count(
    flavour: str, url: str, prefix: str, *, tiered: bool
) -> None:
    """Periodic mode: what one instance admitted reaches the other with a sync, so the second
    rejects once the first has used the whole limit, and admits again a window later."""
    clock = ManualClock(100.0)
    stores = [make_store(flavour, url, prefix=prefix, clock=clock) for _ in range(2)]
    first, second = (
        make_limiter(flavour, store, tiered=tiered, mode="periodic", limit=6, clock=clock)
        for store in stores
    )
    try:
        assert [(await acquire(first)).allowed for _ in range(6)] == [True] * 6
        assert await sync_now(first)
        assert await sync_now(second)
        rejected = await acquire(second, tier=4)
        assert (rejected.allowed, rejected.reason) == (False, "shed" if tiered else "rate_limit")
        clock.advance(WINDOW + WINDOW / BUCKETS)
        assert await sync_now(first)
        assert await sync_now(second)
        assert (await acquire(second, tier=4)).allowed
        assert not first.fallback
        assert not second.fallback
    finally:
        await close(first, second, *stores)


def policy_for(url: str, key: str, *, mode: str) -> Policy:
    """A policy whose ``/shop.Cart/*`` methods share a limit of 3 in ``url``."""
    limit = {"limit": 3, "store": url, "mode": mode, "key": key, "fail_open": False}
    return Policy.from_dict({"methods": {"/shop.Cart/*": {"rate_limit": limit}}})


async def policy_limit_is_shared_end_to_end(flavour: str, url: str, key: str) -> None:
    """``build_limiter`` on a policy's section (start-up check included, fail-closed, so an
    unreachable store would raise): two limiters built from it share the exact limit. The URL
    gets a generous operation timeout: fail-closed, a first command slower than the default
    timeout on a loaded machine (a cluster client reads the slot map first) would be a rejection;
    so does the connect (a URL's socket_timeout leaves the connect timeout at the default)."""
    url += ("&" if "?" in url else "?") + "socket_timeout=2&socket_connect_timeout=2"
    settings = policy_for(url, key, mode="exact").settings_for("/shop.Cart/Add").rate_limit
    assert settings is not None
    limiters: list[Any] = [build_limiter(settings, aio=flavour == "aio") for _ in range(2)]
    try:
        assert all(needs_await(limiter) == (flavour == "aio") for limiter in limiters)
        allowed = [(await settle(limiters[i % 2].try_acquire(1))).allowed for i in range(5)]
        fallback = [getattr(getattr(x, "limiter", x), "fallback", None) for x in limiters]
        assert allowed == [True, True, True, False, False], f"{allowed}, fell back: {fallback}"
    finally:
        for limiter in limiters:
            await settle(getattr(limiter, "aclose", limiter.close)())
