"""Per-caller quotas shared through a real Redis: a sync and an aio server count each tenant
together, tenants apart, and Redis holds the tenant's hash, never its value."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import grpc
import pytest
import redis

from interceptors.harness import Harness
from ports import free_port
from resilience.events import default_gauge_registry
from resilience.interceptors import AioServerInterceptor, ServerInterceptor
from resilience.interceptors._callers import caller_digest
from resilience.interceptors._server_limits import build_limiter
from resilience.policy import Policy, RateLimitSettings
from resilience.testing import AioEchoServer, EchoServer, echo_call

pytestmark = pytest.mark.e2e

SECRET = "tenant-secret-4711"


def test_servers_share_each_tenants_quota_through_the_store(
    patient_redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    rate_limit = {
        "limit": 3,
        "per": "metadata:x-tenant",
        "store": patient_redis_url,
        "mode": "exact",
        "key": prefix,
    }
    policy = Policy.from_dict({"methods": {"*": {"rate_limit": rate_limit}}})

    async def scenario() -> tuple[list[bool], list[bool]]:
        aio_interceptor = AioServerInterceptor(policy)
        aio_server = await AioEchoServer(interceptors=[aio_interceptor]).start()
        sync_interceptor = ServerInterceptor(policy)
        try:
            with EchoServer(interceptors=[sync_interceptor]) as sync_server:
                targets = [sync_server.address, aio_server.address]
                secret = [
                    await asyncio.to_thread(_passes, targets[i % 2], SECRET) for i in range(5)
                ]
                other = [await asyncio.to_thread(_passes, targets[i % 2], "b") for i in range(3)]
        finally:
            await aio_server.stop(None)
            sync_interceptor.close()
            aio_interceptor.close()  # the callers' limiters, then their one connection pool
            for _ in range(20):
                await asyncio.sleep(0)
        return secret, other

    secret, other = asyncio.run(scenario())

    ours = [r for r in caplog.records if r.levelno >= logging.WARNING and prefix in r.getMessage()]
    assert not ours, caplog.text  # (other tests' limits, still closing, may log meanwhile)
    assert secret == [True] * 3 + [False] * 2
    assert other == [True] * 3
    client = redis.Redis.from_url(patient_redis_url, decode_responses=True)
    keys = [str(key) for key in client.keys(f"*{prefix}*")]
    assert any(caller_digest(SECRET) in key for key in keys), keys
    assert not any(SECRET in key for key in keys)


def _passes(target: str, tenant: str) -> bool:
    with grpc.insecure_channel(target) as channel:
        try:
            echo_call(channel, "unary_unary", timeout=5, metadata=[("x-tenant", tenant)])
        except grpc.RpcError as error:
            code = error.code()
        else:
            return True
    assert code is grpc.StatusCode.RESOURCE_EXHAUSTED
    return False


def test_a_store_outage_shows_as_one_fallback_gauge_named_after_the_limit(prefix: str) -> None:
    """Callers' limiters on an unreachable store fall back; the gauges show the limit's name
    once, never a caller's digest."""

    url = f"redis://127.0.0.1:{free_port()}/0?socket_connect_timeout=0.05"
    settings = RateLimitSettings(
        limit=5, per="metadata:x-tenant", store=url, mode="exact", key=prefix
    )
    limiter: Any = build_limiter(settings, time.monotonic)
    try:
        assert limiter.try_acquire(2, SECRET).allowed  # decided locally: fail-open
        readings = [r for r in default_gauge_registry().readings() if prefix in repr(r)]
        assert [(r.name, r.value, dict(r.attributes)) for r in readings] == [
            ("limiter.fallback", 1.0, {"limit": prefix})
        ]
        assert caller_digest(SECRET) not in repr(default_gauge_registry().readings())
    finally:
        limiter.close()
    assert not [r for r in default_gauge_registry().readings() if prefix in repr(r)]


def test_callers_meet_a_silent_store_together(
    harness: Harness, silent_redis: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A store that accepts connections and never answers, 30 new callers (sync and aio, both
    forms): their limiters share one breaker, so the outage is met by one probe per back-off
    and logged once under the limit's name. With a breaker each, every new caller's first call
    waited out the store's timeout (50 ms: 100 callers took 5.3 s instead of 0.05 s) and
    logged a warning of its own."""
    section = {"limit": 5, "per": "metadata:x-key", "store": silent_redis, "mode": "exact"}
    policy = Policy.from_dict({"methods": {"*": {"rate_limit": {**section, "key": prefix}}}})
    server = harness.server(policy=policy)
    client = harness.client(server.address)

    with caplog.at_level(logging.WARNING, logger="resilience.backends"):
        results = [client.call(timeout=30, metadata=[("x-key", f"k{i}")]) for i in range(30)]

    assert results == [[b"ping"]] * 30  # each caller decided locally: fail-open
    failed = [  # this limit's: an earlier test's limiter may log meanwhile on a loaded host
        message
        for message in (r.getMessage() for r in caplog.records)
        if " failed (" in message and prefix in message
    ]
    assert len(failed) == 1, failed
    assert f"limit '{prefix}#metadata:x-key': store" in failed[0]
