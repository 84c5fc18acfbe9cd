"""A server policy naming a Redis store: the store is checked once per URL when the policy is
installed (warning when fail-open, ConfigError when fail-closed), and each shared limit's
``limiter.fallback`` reaches the process-wide gauge registry once (from the limiter itself,
not again through the interceptor's readings)."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from interceptors.harness import AioHarness, Harness
from resilience.backends import (
    AioMemoryStore,
    AioSharedTieredLimiter,
    MemoryStore,
    SharedSlidingWindowLimiter,
    factory,
)
from resilience.errors import ConfigError
from resilience.events import default_gauge_registry
from resilience.interceptors import AioServerInterceptor, ServerInterceptor
from resilience.policy import Policy

from .conftest import free_port

INTERCEPTORS = [ServerInterceptor, AioServerInterceptor]


@pytest.fixture(params=["sync", "aio"])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    made = AioHarness() if request.param == "aio" else Harness()
    try:
        yield made
    finally:
        made.close()


def redis_policy(url: str, *, fail_open: bool = True, mode: str = "exact") -> Policy:
    def limit(key: str) -> dict[str, Any]:
        return {"limit": 5, "store": url, "mode": mode, "fail_open": fail_open, "key": key}

    return Policy.from_dict(
        {
            "methods": {
                "*": {"rate_limit": limit("any")},
                "/shop.Cart/*": {"rate_limit": limit("cart")},
                "/shop.Catalog/*": {"rate_limit": limit("catalog")},
            }
        }
    )


def dead_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


def fallback_readings(readings: Any) -> dict[str, float]:
    return {r.attributes["limit"]: r.value for r in readings if r.name == "limiter.fallback"}


def test_an_unreachable_fail_open_store_warns_and_its_limit_reports_the_fallback(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    url = dead_url()
    with caplog.at_level(logging.WARNING, logger="resilience.backends"):
        server = harness.server(policy=redis_policy(url, mode="exact"))
    warnings = [r for r in caplog.records if "unreachable at start-up" in r.getMessage()]
    assert len(warnings) == 1  # one check for the URL all limits name
    client = harness.client(server.address)

    assert client.call() == [b"ping"]  # decided locally: the store's failure fails no call

    assert fallback_readings(server.interceptor.gauge_readings()) == {}
    gc.collect()  # limiters of earlier tests, weakly held, must not count
    readings = default_gauge_registry().readings()
    anys = [
        r.value for r in readings if r.name == "limiter.fallback" and r.attributes["limit"] == "any"
    ]
    assert anys == [1.0]


@pytest.mark.parametrize("cls", INTERCEPTORS)
def test_an_unreachable_fail_closed_store_refuses_the_policy(cls: Any) -> None:
    policy = redis_policy(dead_url(), fail_open=False)
    with pytest.raises(ConfigError, match="every call would be rejected"):
        cls(policy, observers=())
    interceptor = cls(Policy.default(), observers=())
    with pytest.raises(ConfigError, match="every call would be rejected"):
        interceptor.update_policy(policy)
    assert interceptor.policy == Policy.default()  # the old policy stays in force


@pytest.mark.parametrize("cls", INTERCEPTORS)
def test_each_store_is_checked_once_at_install_time_not_per_call(
    cls: Any, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[tuple[str, bool]] = []
    monkeypatch.setattr(  # where the interceptors look it up, when a policy is installed
        factory, "check_store", lambda url, *, fail_open: checked.append((url, fail_open))
    )
    interceptor = cls(redis_policy(redis_url), observers=())
    assert checked == [(redis_url, True)]

    interceptor.update_policy(redis_policy(redis_url, mode="periodic"))
    assert checked == [(redis_url, True)]  # already checked
    interceptor.update_policy(Policy.default())
    assert len(checked) == 1


def test_shared_limiters_register_themselves_weakly() -> None:
    limiter = SharedSlidingWindowLimiter(MemoryStore(), name="weak", limit=3, mode="exact")
    assert limiter in default_gauge_registry().sources()
    assert fallback_readings(default_gauge_registry().readings())["weak"] == 0.0

    async def build() -> AioSharedTieredLimiter:
        return AioSharedTieredLimiter(AioMemoryStore(), name="weak-aio", limit=3, mode="exact")

    aio_limiter = asyncio.run(build())
    assert aio_limiter in default_gauge_registry().sources()

    del limiter, aio_limiter
    gc.collect()
    assert not {"weak", "weak-aio"} & set(fallback_readings(default_gauge_registry().readings()))
