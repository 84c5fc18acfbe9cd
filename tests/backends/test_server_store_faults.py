"""Redis faults under a protected server's traffic, with the store's default arguments (sync and
aio, ``protect()`` and interceptor forms): a "Redis" that accepts connections and never answers,
and a redis-server stopped and started again while calls flow. No call fails or waits much past
the store's socket timeout because of Redis; the fallback shows on the ``limiter.fallback`` gauge
and ends once Redis answers again."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from interceptors.harness import Client, Harness
from resilience.backends.factory import STARTUP_CHECK_TIMEOUT
from resilience.backends.redis_store import DEFAULT_SOCKET_TIMEOUT
from resilience.events import default_gauge_registry
from resilience.policy import Policy
from timing import Stopwatch

from .conftest import RedisServer

SLACK = 0.5
"""Seconds a call may take beyond the store's timeout: the gRPC round trip and the handler."""


def limit_on(url: str, mode: str) -> tuple[Policy, str]:
    """A policy whose every method shares one limit on ``url`` (defaults otherwise), and the
    limit's key (this test's own: gauges of other tests' limits are not read)."""
    key = f"faults-{uuid.uuid4().hex[:8]}"
    section = {"limit": 100_000, "store": url, "mode": mode, "key": key}
    return Policy.from_dict({"methods": {"*": {"rate_limit": section}}}), key


def fallback(key: str) -> float | None:
    """The ``limiter.fallback`` reading of the limit ``key`` (None before its first decision)."""
    for reading in default_gauge_registry().readings():
        if reading.name == "limiter.fallback" and reading.attributes.get("limit") == key:
            return float(reading.value)
    return None


def timed_call(client: Client) -> tuple[Any, Stopwatch]:
    with Stopwatch() as watch:
        result = client.call(timeout=30)
    return result, watch


@pytest.mark.parametrize("mode", ["exact", "periodic"])
def test_a_store_that_never_answers_costs_a_call_at_most_its_timeout(
    harness: Harness, silent_redis: str, mode: str
) -> None:
    policy, key = limit_on(silent_redis, mode)
    with Stopwatch() as built:
        server = harness.server(policy=policy)
    built.within(STARTUP_CHECK_TIMEOUT + SLACK, "a server start-up checking a silent store")
    client = harness.client(server.address)

    for _ in range(20):
        result, watch = timed_call(client)
        assert result == [b"ping"]
        watch.within(DEFAULT_SOCKET_TIMEOUT + SLACK, "a call deciding against a silent store")
    deadline = time.monotonic() + 10  # periodic mode: the background sync notices it
    while fallback(key) != 1.0 and time.monotonic() < deadline:
        assert client.call(timeout=30) == [b"ping"]
        time.sleep(0.01)
    assert fallback(key) == 1.0


@pytest.mark.parametrize("mode", ["exact", "periodic"])
def test_a_redis_restarted_under_traffic_fails_no_call_and_the_fallback_ends(
    harness: Harness, redis_server: RedisServer, redis_url: str, mode: str
) -> None:
    policy, key = limit_on(redis_url, mode)
    server = harness.server(policy=policy)
    client = harness.client(server.address)

    def calls_until(state: float, seconds: float) -> None:
        """Make calls (each must succeed) until the limit's gauge reads ``state``."""
        deadline = time.monotonic() + seconds
        while fallback(key) != state:
            assert time.monotonic() < deadline, f"limiter.fallback never read {state}"
            result, watch = timed_call(client)
            assert result == [b"ping"]
            watch.within(DEFAULT_SOCKET_TIMEOUT + SLACK, "a call while Redis is down")
            time.sleep(0.005)

    assert client.call(timeout=30) == [b"ping"]
    calls_until(0.0, 10)  # distributed (a slow host may time a first call out: it recovers)
    redis_server.kill()
    calls_until(1.0, 10)
    for _ in range(20):
        assert client.call(timeout=30) == [b"ping"]
    redis_server.start()
    with Stopwatch() as back:
        calls_until(0.0, 10)
    back.within(2.0, "distributed limiting resumed after Redis came back")
