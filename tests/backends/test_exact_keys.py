"""Exact mode keeps a TTL on its ring while refreshing it only when the ring moves to a new
slot (a decision in the same slot as the last one sends no PEXPIRE)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from resilience._base.clock import ManualClock
from resilience.backends import (
    LimitSpec,
    RedisStore,
    SharedSlidingWindowLimiter,
    SharedTieredLimiter,
)


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url, socket_timeout=2.0)
    yield connection
    connection.close()


def test_the_ring_keeps_a_ttl_refreshed_when_it_moves(
    redis_url: str, prefix: str, client: redis.Redis
) -> None:
    clock = ManualClock(100.0)
    store = RedisStore.from_url(redis_url, prefix=prefix, clock=clock, socket_timeout=2.0)
    spec = LimitSpec("ttl", 10, window=1.0, buckets=10)
    window_key, _ = spec.keys(prefix)
    limiter = SharedSlidingWindowLimiter(store, name="ttl", limit=10, mode="exact", clock=clock)
    assert limiter.try_acquire().allowed
    assert 0 < client.pttl(window_key) <= spec.ttl_ms
    client.pexpire(window_key, 60_000)  # a marker: the same slot must leave it alone
    clock.advance(0.05)
    assert limiter.try_acquire().allowed
    assert client.pttl(window_key) > spec.ttl_ms
    clock.advance(0.1)  # the next slot: the TTL is set again
    assert limiter.try_acquire().allowed
    assert 0 < client.pttl(window_key) <= spec.ttl_ms
    store.close()


def test_a_rejected_tiered_call_on_a_new_ring_leaves_a_ttl(
    redis_url: str, prefix: str, client: redis.Redis
) -> None:
    clock = ManualClock(100.0)
    store = RedisStore.from_url(redis_url, prefix=prefix, clock=clock, socket_timeout=2.0)
    window_key, _ = LimitSpec("ttl-tiered", 0, tiered=True).keys(prefix)
    limiter = SharedTieredLimiter(store, name="ttl-tiered", limit=0, mode="exact", clock=clock)
    assert not limiter.try_acquire(2).allowed
    assert client.pttl(window_key) > 0
    store.close()
