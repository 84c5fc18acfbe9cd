"""An exact-mode limit on Redis, installed from a policy on a server interceptor: every call
waits on one atomic decision in Redis. On a grpc.aio server that wait is awaited, so the event
loop keeps running other tasks while Redis is slow (the sync server blocks a worker thread)."""

from __future__ import annotations

import asyncio
import time

import grpc

from interceptors.harness import AioHarness, Failure, Harness
from resilience._base.keys import REJECT
from resilience.policy import Policy
from resilience.testing import aio_echo_call

from ._servers import frozen
from .conftest import RedisServer

SLOW_STORE_TIMEOUT = 0.3
"""Socket timeout of the slow-store test: a blocked loop would miss this long of ticks."""


def exact_policy(store: str, key: str, limit: int) -> Policy:
    section = {"limit": limit, "window": 60.0, "store": store, "mode": "exact", "key": key}
    return Policy.from_dict({"methods": {"*": {"rate_limit": section}}})


def test_an_exact_redis_limit_is_enforced(harness: Harness, redis_url: str, prefix: str) -> None:
    server = harness.server(policy=exact_policy(redis_url, prefix, 3))
    client = harness.client(server.address)

    results = [client.call() for _ in range(5)]

    assert results[:3] == [[b"ping"]] * 3
    for rejected in results[3:]:
        assert isinstance(rejected, Failure)
        assert rejected.code is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert rejected.trailing[REJECT] == "rate_limit"


def test_an_aio_server_awaits_a_slow_redis_without_blocking_its_loop(
    redis_server: RedisServer, redis_url: str, prefix: str
) -> None:
    # The connect timeout too: a URL's socket_timeout leaves it at the default 10 ms, and a warm
    # call whose connect a loaded host slowed past that would open the store's breaker, so the
    # measured call would skip Redis instead of waiting on it.
    slow_url = f"{redis_url}?socket_timeout={SLOW_STORE_TIMEOUT}&socket_connect_timeout=2"
    harness = AioHarness()
    try:
        server = harness.server(policy=exact_policy(slow_url, prefix, 100))
        client = harness.client(server.address)
        assert client.call() == [b"ping"]  # warm: connection made, script loaded

        async def call_while_ticking() -> tuple[list[bytes], float, int]:
            ticks = 0

            async def tick() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            ticker = asyncio.ensure_future(tick())
            started = time.monotonic()
            try:
                result = await aio_echo_call(client.channel, "unary_unary", b"ping", timeout=5)
            finally:
                ticker.cancel()
            return result, time.monotonic() - started, ticks

        with frozen(redis_server.process):
            result, took, ticks = harness.run(call_while_ticking())
    finally:
        harness.close()

    assert result == [b"ping"]  # Redis cut at the socket timeout; the fallback admitted it
    assert took >= SLOW_STORE_TIMEOUT * 0.8  # the call really waited on Redis
    assert ticks >= 5  # and the loop kept running meanwhile (blocked, it would tick ~0 times)
