"""Junk in the limit's Redis keys never crashes a decision: the limit's counts are reset (at
most one window forgotten), overwritten, and the repair is logged once."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import redis

from resilience._base.clock import ManualClock
from resilience.backends import LimitSpec, RedisStore, SharedSlidingWindowLimiter

NOW = 1000.0
SLOT = 10_000  # the 100 ms slot containing NOW


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url, socket_timeout=2.0)
    yield connection
    connection.close()


def limiter(redis_url: str, prefix: str, mode: str) -> SharedSlidingWindowLimiter:
    clock = ManualClock(NOW)
    store = RedisStore.from_url(redis_url, prefix=prefix, clock=clock, socket_timeout=2.0)
    return SharedSlidingWindowLimiter(
        store, name="junk", limit=5, mode="exact" if mode == "exact" else "periodic", clock=clock
    )


@pytest.mark.parametrize("mode", ["exact", "periodic"])
def test_junk_counts_are_reset_and_overwritten(
    redis_url: str, prefix: str, client: redis.Redis, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    window_key, _ = LimitSpec("junk", 5).keys(prefix)
    position = SLOT % 11
    client.hset(window_key, mapping={"c": SLOT, f"{position}:0": "lots", f"{position}:1": "-3"})
    subject = limiter(redis_url, prefix, mode)
    with caplog.at_level(logging.WARNING, logger="resilience.backends"):
        decisions = []
        for _ in range(7):
            decisions.append(subject.try_acquire().allowed)
            assert subject.sync_now() or mode == "exact"
    subject.close()
    assert decisions == [True] * 5 + [False] * 2
    assert not subject.fallback
    stored = client.hgetall(window_key)
    assert stored[f"{position}:0".encode()] == b"5"
    assert [r.getMessage() for r in caplog.records if "malformed" in r.getMessage()] == [
        f"malformed values in {redis_url} for limit 'junk' were reset and are being overwritten"
    ]


@pytest.mark.parametrize("mode", ["exact", "periodic"])
def test_keys_of_the_wrong_type_are_replaced(
    redis_url: str, prefix: str, client: redis.Redis, mode: str
) -> None:
    window_key, registry_key = LimitSpec("junk", 5).keys(prefix)
    client.set(window_key, "not a hash")
    client.set(registry_key, "not a sorted set")
    subject = limiter(redis_url, prefix, mode)
    assert subject.try_acquire().allowed
    if mode == "periodic":
        assert subject.sync_now()
    subject.close()
    assert not subject.fallback
    assert client.type(window_key) == b"hash"
    assert client.pttl(window_key) > 0
    if mode == "periodic":
        assert client.type(registry_key) == b"zset"


def test_a_ring_ahead_of_the_clock_counts_in_its_newest_slot(
    redis_url: str, prefix: str, client: redis.Redis
) -> None:
    """Redis TIME that went back (or a test clock behind the ring) never loses counts."""
    window_key, _ = LimitSpec("junk", 5).keys(prefix)
    client.hset(window_key, mapping={"c": SLOT + 3, "T:0": 0, "T:1": 0})
    subject = limiter(redis_url, prefix, "exact")
    assert [subject.try_acquire().allowed for _ in range(6)] == [True] * 5 + [False]
    assert client.hget(window_key, f"{(SLOT + 3) % 11}:0") == b"5"
    assert client.hget(window_key, "c") == str(SLOT + 3).encode()
