"""An asyncio limiter whose event loop closes with its sync task still waiting on Redis: what
the garbage collector meets when it ends that task is no store outage."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from resilience.backends import AioRedisStore, AioSharedSlidingWindowLimiter

from ._servers import frozen
from .conftest import RedisServer

pytestmark = pytest.mark.e2e


def test_a_loop_closed_mid_sync_reports_no_store_outage(
    redis_server: RedisServer, redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A service that closes its loop without closing its server (asyncio itself then reports
    # "Task was destroyed but it is pending!"). Ending the task runs redis-py's clean-up outside
    # any loop, which raises RuntimeError: no running event loop. Before, that was logged as
    # the store failing, a false outage warning (and it showed up in later tests' logs).
    loop = asyncio.new_event_loop()
    store = AioRedisStore.from_url(redis_url, prefix=prefix, socket_timeout=5.0)
    name = f"{prefix}-left"
    limiter = AioSharedSlidingWindowLimiter(store, name=name, limit=50, sync_interval=0.01)

    async def decide_and_sync(limiter: AioSharedSlidingWindowLimiter) -> None:
        assert limiter.decide_nowait().allowed  # binds the limiter, starts its sync task
        await asyncio.sleep(0.1)  # a few syncs answered

    loop.run_until_complete(decide_and_sync(limiter))
    assert not limiter.fallback
    with frozen(redis_server.process), caplog.at_level(logging.WARNING, logger="resilience"):
        # The task's next sync starts 0.01 s in and waits on the stopped Redis (5 s timeout).
        loop.run_until_complete(asyncio.sleep(0.05))
        loop.close()
        del limiter, store
        gc.collect()
    outages = [r.getMessage() for r in caplog.records if name in r.getMessage()]
    assert outages == []
