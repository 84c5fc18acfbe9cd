"""TLS (``rediss://``): a real TLS-only redis-server, its certificate signed by a test CA,
runs the shared limiters, sync and asyncio; a client that does not trust it falls back."""

from __future__ import annotations

import logging

import pytest

from resilience._base.clock import ManualClock
from resilience.backends import AioRedisStore, RedisStore
from resilience.backends.factory import check_store
from resilience.errors import ConfigError

from ._servers import RedisTlsServer
from ._topologies import (
    FLAVOURS,
    acquire,
    close,
    exact_decisions_match_the_memory_algorithm,
    make_limiter,
    make_store,
    periodic_instances_share_the_count,
    policy_limit_is_shared_end_to_end,
    settle,
    sync_now,
)

pytestmark = [pytest.mark.asyncio, pytest.mark.parametrize("flavour", FLAVOURS)]


async def test_a_new_connection_is_not_cut_by_the_operation_timeout(
    redis_tls: RedisTlsServer, flavour: str
) -> None:
    # redis-py builds an SSL context (loading the system CA store) inside each new connect:
    # longer than the default operation timeout, so TLS connects get their own default.
    kind = AioRedisStore if flavour == "aio" else RedisStore
    store: AioRedisStore | RedisStore = kind.from_url(redis_tls.url)
    try:
        await settle(store.ping())
    finally:
        await close(store)


@pytest.mark.parametrize("tiered", [False, True], ids=["sliding", "tiered"])
async def test_exact_mode_across_two_clients_matches_the_memory_algorithm(
    redis_tls: RedisTlsServer, prefix: str, flavour: str, tiered: bool
) -> None:
    await exact_decisions_match_the_memory_algorithm(flavour, redis_tls.url, prefix, tiered=tiered)


@pytest.mark.parametrize("tiered", [False, True], ids=["sliding", "tiered"])
async def test_periodic_mode_shares_the_count_after_a_sync(
    redis_tls: RedisTlsServer, prefix: str, flavour: str, tiered: bool
) -> None:
    await periodic_instances_share_the_count(flavour, redis_tls.url, prefix, tiered=tiered)


async def test_the_start_up_check_passes_and_the_policy_limit_is_shared(
    redis_tls: RedisTlsServer, prefix: str, flavour: str
) -> None:
    assert check_store(redis_tls.url, fail_open=False)
    await policy_limit_is_shared_end_to_end(flavour, redis_tls.url, prefix)


async def test_redis_py_tls_options_in_the_url_are_accepted(
    redis_tls: RedisTlsServer, prefix: str, flavour: str
) -> None:
    url = (
        f"rediss://127.0.0.1:{redis_tls.port}/0?ssl_cert_reqs=required"
        f"&ssl_check_hostname=true&ssl_ca_certs={redis_tls.ca_path}"
    )
    assert check_store(url, fail_open=False)
    clock = ManualClock(100.0)
    store = make_store(flavour, url, prefix=prefix, clock=clock)
    limiter = make_limiter(flavour, store, tiered=False, mode="exact", limit=1, clock=clock)
    try:
        assert [(await acquire(limiter)).allowed for _ in range(2)] == [True, False]
    finally:
        await close(limiter, store)


async def test_a_server_signed_by_an_untrusted_ca_warns_or_refuses_at_start_up(
    redis_tls: RedisTlsServer, flavour: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = redis_tls.url_trusting(redis_tls.wrong_ca_path)
    with caplog.at_level(logging.WARNING, logger="resilience.backends"):
        assert check_store(url, fail_open=True) is False
    assert "unreachable at start-up" in caplog.text
    with pytest.raises(ConfigError, match="certificate verify failed"):
        check_store(url, fail_open=False)


@pytest.mark.parametrize("mode", ["exact", "periodic"])
async def test_a_server_signed_by_an_untrusted_ca_makes_the_limiter_fall_back(
    redis_tls: RedisTlsServer, prefix: str, flavour: str, mode: str
) -> None:
    clock = ManualClock(100.0)
    url = redis_tls.url_trusting(redis_tls.wrong_ca_path)
    store = make_store(flavour, url, prefix=prefix, clock=clock)
    limiter = make_limiter(flavour, store, tiered=False, mode=mode, limit=4, clock=clock)
    try:
        decisions = [(await acquire(limiter)).allowed for _ in range(6)]
        assert decisions == [True] * 4 + [False] * 2  # the local limit: 4 // 1 instance
        assert not await sync_now(limiter)
    finally:
        await close(limiter, store)
