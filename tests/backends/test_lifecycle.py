"""Lifecycle of shared limiters: closing is idempotent and stops the periodic sync (thread or
task); a policy reload closes the store-backed limiters it drops; an aio limiter belongs to
the event loop of its first decision and says so when used from another."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from interceptors.harness import AioHarness, Harness
from resilience.backends import (
    AioMemoryStore,
    AioRedisStore,
    AioSharedSlidingWindowLimiter,
    AioSharedTieredLimiter,
    MemoryStore,
    SharedSlidingWindowLimiter,
)
from resilience.backends.periodic import SyncTask
from resilience.events import default_gauge_registry
from resilience.policy import Policy


@pytest.fixture(params=["sync", "aio"])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    made = AioHarness() if request.param == "aio" else Harness()
    try:
        yield made
    finally:
        made.close()


def periodic_policy(url: str, key: str) -> Policy:
    limit = {"limit": 100, "store": url, "mode": "periodic", "sync_interval": 0.01, "key": key}
    return Policy.from_dict({"methods": {"*": {"rate_limit": limit}}})


def shared_limiter_named(key: str) -> Any:
    found = [
        source
        for source in default_gauge_registry().sources()
        if getattr(getattr(source, "spec", None), "name", None) == key
    ]
    assert len(found) == 1
    return found[0]


def syncing(limiter: Any) -> bool:
    """``limiter.syncing`` read afresh (a property that close() changes)."""
    return bool(limiter.syncing)


def wait_until(condition: Any, harness: Harness, seconds: float = 5.0) -> bool:
    """Poll ``condition`` (bounded); on the aio harness, let its loop run in between."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        if isinstance(harness, AioHarness):
            harness.run(asyncio.sleep(0.005))
        else:
            time.sleep(0.005)
    return True


def test_a_reload_that_drops_a_limit_stops_its_sync(
    harness: Harness, redis_url: str, prefix: str
) -> None:
    key = f"{prefix}-reload-{harness.aio}"
    server = harness.server(policy=periodic_policy(redis_url, key))
    client = harness.client(server.address)
    assert client.call() == [b"ping"]
    limiter = shared_limiter_named(key)
    assert wait_until(lambda: limiter.syncing, harness)

    server.interceptor.update_policy(Policy.default())

    assert limiter.closed
    assert wait_until(lambda: not limiter.syncing, harness)
    assert limiter not in default_gauge_registry().sources()
    assert client.call() == [b"ping"]  # the new policy has no limit; nothing broke


def test_closing_the_server_interceptor_stops_its_limits_sync_and_calls_still_pass(
    harness: Harness, redis_url: str, prefix: str
) -> None:
    key = f"{prefix}-close-{harness.aio}"
    server = harness.server(policy=periodic_policy(redis_url, key))
    client = harness.client(server.address)
    assert client.call() == [b"ping"]
    limiter = shared_limiter_named(key)
    assert wait_until(lambda: limiter.syncing, harness)

    server.interceptor.close()
    server.interceptor.close()

    assert limiter.closed
    assert wait_until(lambda: not limiter.syncing, harness)
    assert client.call() == [b"ping"]  # decided locally from now on, never failed


def test_a_reload_that_keeps_a_limit_keeps_its_sync(
    harness: Harness, redis_url: str, prefix: str
) -> None:
    key = f"{prefix}-kept-{harness.aio}"
    server = harness.server(policy=periodic_policy(redis_url, key))
    client = harness.client(server.address)
    assert client.call() == [b"ping"]
    limiter = shared_limiter_named(key)

    server.interceptor.update_policy(periodic_policy(redis_url, key))

    assert not limiter.closed
    assert wait_until(lambda: limiter.syncing, harness)


def test_closing_a_sync_limiter_is_idempotent_and_stops_its_thread() -> None:
    limiter = SharedSlidingWindowLimiter(MemoryStore(), name="close-sync", limit=5)
    assert limiter.try_acquire().allowed  # starts the sync thread
    assert syncing(limiter)
    limiter.close()
    limiter.close()
    assert not syncing(limiter)
    assert limiter not in default_gauge_registry().sources()
    assert limiter.try_acquire().allowed  # still decides, locally
    assert not limiter.syncing
    assert not any(t.name == "resilience-close-sync" for t in threading.enumerate())


def test_closing_an_aio_limiter_stops_its_task_and_closes_its_own_store(
    redis_url: str, prefix: str
) -> None:
    async def scenario() -> None:
        store = AioRedisStore.from_url(redis_url, prefix=prefix, socket_timeout=0.5)
        limiter = AioSharedSlidingWindowLimiter(
            store, name="close-aio", limit=5, sync_interval=0.01, close_store=True
        )
        assert limiter.decide_nowait().allowed  # starts the sync task
        assert syncing(limiter)
        limiter.close()  # on the loop: schedules the shutdown
        await limiter.aclose()
        await limiter.aclose()
        assert not syncing(limiter)
        assert store.closed
        assert limiter.decide_nowait().allowed  # still decides, locally
        assert not limiter.syncing  # and the task is not started again

    asyncio.run(scenario())


def test_closing_an_unused_aio_limiter_needs_no_loop() -> None:
    limiter = AioSharedTieredLimiter(AioMemoryStore(), name="unused", limit=5)
    limiter.close()
    limiter.close()
    assert limiter.closed


@pytest.mark.parametrize("mode", ["exact", "periodic"])
def test_an_aio_limiter_used_from_a_second_event_loop_says_so(mode: str) -> None:
    limiter = AioSharedSlidingWindowLimiter(
        AioMemoryStore(), name="one-loop", limit=5, mode="exact" if mode == "exact" else "periodic"
    )

    async def decide() -> bool:
        return (await limiter.try_acquire()).allowed

    assert asyncio.run(decide())
    with pytest.raises(RuntimeError, match="bound to the event loop of its first decision"):
        asyncio.run(decide())


def test_a_sync_task_stops_even_if_its_step_swallows_the_cancellation() -> None:
    """redis-py can turn a cancellation into a timeout error, which a step absorbs."""
    entered = asyncio.Event()

    async def stubborn_step() -> None:
        entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            return  # swallowed: the loop must still end

    async def scenario() -> bool:
        task = SyncTask(stubborn_step, interval=0.001)
        task.start()
        await entered.wait()
        await task.stop()
        return task.running

    assert asyncio.run(scenario()) is False
