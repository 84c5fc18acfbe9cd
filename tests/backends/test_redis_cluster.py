"""Redis Cluster (``?cluster=true``): a real 3-master cluster runs the shared limiters, sync
and asyncio, exact and periodic, with every limit's keys in one slot; a cluster that is down or
asleep never fails a call."""

from __future__ import annotations

import logging
import re

import pytest

from resilience._base.clock import ManualClock
from resilience.backends._url import parse_store_url
from resilience.backends.factory import check_store
from resilience.errors import ConfigError
from timing import Stopwatch

from ._servers import RedisClusterServers, free_ports, frozen
from ._topologies import (
    FLAVOURS,
    acquire,
    close,
    exact_decisions_match_the_memory_algorithm,
    make_limiter,
    make_store,
    periodic_instances_share_the_count,
    policy_limit_is_shared_end_to_end,
    sync_now,
)

each_flavour = pytest.mark.parametrize("flavour", FLAVOURS)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis://cache:7000/1?cluster=true", "Redis Cluster has only database 0"),
        ("unix:///run/redis.sock?cluster=true", "Redis Cluster needs redis:// or rediss://"),
        ("redis://cache:7000?cluster=maybe", "cluster must be true or false, got 'maybe'"),
    ],
)
def test_cluster_urls_redis_py_would_refuse_fail_at_load(url: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(problem)):
        parse_store_url(url)


def test_a_cluster_url_keeps_redis_py_options_and_database_0() -> None:
    assert parse_store_url("rediss://:pw@cache:7000/0?cluster=yes&ssl_cert_reqs=none") == (
        "rediss://:pw@cache:7000/0?ssl_cert_reqs=none",
        True,
    )
    assert parse_store_url("redis://cache:7000/1?cluster=false") == ("redis://cache:7000/1", False)


@pytest.mark.asyncio
@each_flavour
@pytest.mark.parametrize("tiered", [False, True], ids=["sliding", "tiered"])
async def test_exact_mode_across_two_clients_matches_the_memory_algorithm(
    redis_cluster: RedisClusterServers, prefix: str, flavour: str, tiered: bool
) -> None:
    await exact_decisions_match_the_memory_algorithm(
        flavour, redis_cluster.url, prefix, tiered=tiered
    )


@pytest.mark.asyncio
@each_flavour
@pytest.mark.parametrize("tiered", [False, True], ids=["sliding", "tiered"])
async def test_periodic_mode_shares_the_count_after_a_sync(
    redis_cluster: RedisClusterServers, prefix: str, flavour: str, tiered: bool
) -> None:
    await periodic_instances_share_the_count(flavour, redis_cluster.url, prefix, tiered=tiered)


@pytest.mark.asyncio
@each_flavour
async def test_limits_spread_over_the_masters_each_in_one_slot(
    redis_cluster: RedisClusterServers, prefix: str, flavour: str
) -> None:
    clock = ManualClock(100.0)
    for port in redis_cluster.ports:  # every master must load the scripts on NOSCRIPT
        node = redis_cluster.node(port)
        node.script_flush()
        node.close()
    names = [f"{prefix}-{index}" for index in range(9)]
    stores = [make_store(flavour, redis_cluster.url, prefix=name, clock=clock) for name in names]
    try:
        for store in stores:
            exact = make_limiter(flavour, store, tiered=True, mode="exact", limit=2, clock=clock)
            periodic = make_limiter(
                flavour, store, tiered=False, mode="periodic", limit=2, clock=clock
            )
            decisions = [(await acquire(exact, tier=1)).allowed for _ in range(3)]
            assert decisions == [True, True, False]
            assert not exact.fallback  # decided by the cluster, not by the local fallback
            await acquire(periodic)
            assert await sync_now(periodic)  # the two-key script: CROSSSLOT would fail it
            await close(exact, periodic)
    finally:
        await close(*stores)
    masters_used = 0
    for port in redis_cluster.ports:
        node = redis_cluster.node(port)
        found = node.keys(f"{{{prefix}-*")
        keys = sorted(key.decode() if isinstance(key, bytes) else key for key in found)
        node.close()
        masters_used += bool(keys)
        for tag in {key.split("}")[0] + "}" for key in keys}:
            # the limit's ring and its registry, both on this node
            assert [key for key in keys if key.startswith(tag)] == [f"{tag}:i", f"{tag}:w"]
    assert masters_used >= 2  # the client followed the slots to more than one master


@pytest.mark.asyncio
@each_flavour
async def test_the_start_up_check_passes_and_the_policy_limit_is_shared(
    redis_cluster: RedisClusterServers, prefix: str, flavour: str
) -> None:
    assert check_store(redis_cluster.url, fail_open=False)
    await policy_limit_is_shared_end_to_end(flavour, redis_cluster.url, prefix)


def test_an_unreachable_cluster_warns_or_refuses_at_start_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"redis://127.0.0.1:{free_ports(1)[0]}/0?cluster=true"
    with caplog.at_level(logging.WARNING, logger="resilience.backends"):
        assert check_store(url, fail_open=True) is False
    assert "unreachable at start-up" in caplog.text
    with pytest.raises(ConfigError, match="unreachable at start-up"):
        check_store(url, fail_open=False)


@pytest.mark.asyncio
@each_flavour
async def test_an_unreachable_cluster_falls_back_instead_of_failing_the_call(
    flavour: str,
) -> None:
    clock = ManualClock(100.0)
    url = f"redis://127.0.0.1:{free_ports(1)[0]}/0?cluster=true"
    store = make_store(flavour, url, prefix="down", clock=clock)  # no I/O: the cluster is down
    limiter = make_limiter(flavour, store, tiered=False, mode="exact", limit=4, clock=clock)
    try:
        decisions = [(await acquire(limiter)).allowed for _ in range(6)]
        assert decisions == [True] * 4 + [False] * 2  # the local fallback: limit 4 // 1
        assert limiter.fallback
        assert not await sync_now(limiter)
    finally:
        await close(limiter, store)


@pytest.mark.asyncio
@each_flavour
async def test_a_sleeping_master_falls_back_in_the_same_call_without_retrying(
    redis_cluster: RedisClusterServers, prefix: str, flavour: str
) -> None:
    clock = ManualClock(100.0)
    store = make_store(flavour, redis_cluster.url, prefix=prefix, clock=clock, socket_timeout=0.05)
    limiter = make_limiter(flavour, store, tiered=False, mode="exact", limit=100, clock=clock)
    master = redis_cluster.process_of(redis_cluster.port_of(f"{{{prefix}:limit}}:w"))
    try:
        # The client learns the slots. On a loaded host this first call may itself miss the
        # 50 ms timeout: try again (past the breaker's back-off) until the store answers.
        for _ in range(20):
            if (await acquire(limiter)).allowed and not limiter.fallback:
                break
            clock.advance(1.0)
        assert not limiter.fallback
        with frozen(master) as thawed, Stopwatch() as watch:  # the other two masters answer
            decision = await acquire(limiter)
            answered_frozen = not thawed.is_set()
        # Decided locally: redis-py's cluster client would otherwise refresh its slot map from
        # the other masters and retry (10 times by default, with back-off) until this one wakes.
        assert decision.allowed
        assert limiter.fallback
        assert answered_frozen, "the call waited until the master continued"
        watch.within(0.5, "one call meeting a stopped master (socket timeout 50 ms)")
    finally:
        await close(limiter, store)
