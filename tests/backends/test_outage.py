"""Redis faults never fail a call: killed, slow, or unreachable at start-up, the limiter decides
locally within the same call (or rejects, fail-closed) and resumes by itself."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from resilience.backends import RedisStore, SharedSlidingWindowLimiter
from resilience.backends.factory import check_store
from resilience.backends.fallback import DEFAULT_INITIAL_BACKOFF
from resilience.backends.redis_store import DEFAULT_SOCKET_TIMEOUT
from resilience.errors import ConfigError
from timing import Stopwatch

from ._servers import frozen
from .conftest import RedisServer, free_port

OUTAGE_TIMEOUT = 0.1
"""Socket timeout for the kill/restart tests: above the shared machine's scheduling hiccups, so
only the outage trips the breaker (the slow-Redis test checks the default cut)."""


def limiter_on(
    server: RedisServer, prefix: str, mode: str, *, fail_open: bool = True
) -> tuple[RedisStore, SharedSlidingWindowLimiter]:
    store = RedisStore.from_url(server.url, prefix=prefix, socket_timeout=OUTAGE_TIMEOUT)
    limiter = SharedSlidingWindowLimiter(
        store,
        name="outage",
        limit=1000,
        mode="exact" if mode == "exact" else "periodic",
        expected_instances=4,
        fail_open=fail_open,
    )
    return store, limiter


def wait_until(
    condition: Callable[[], object], timeout: float, step: Callable[[], object]
) -> float:
    """Call ``step()`` every 5 ms until ``condition()``; the seconds it took (or fail)."""
    began = time.monotonic()
    while not condition():
        assert time.monotonic() - began < timeout, "condition not reached in time"
        step()
        time.sleep(0.005)
    return time.monotonic() - began


@pytest.mark.parametrize("mode", ["exact", "periodic"])
def test_a_killed_redis_falls_back_at_once_and_resumes_within_a_second(
    redis_server: RedisServer, redis_url: str, prefix: str, mode: str
) -> None:
    store, limiter = limiter_on(redis_server, prefix, mode)
    try:
        assert limiter.try_acquire().allowed
        if mode == "periodic":
            assert limiter.sync_now()
        assert not limiter.fallback

        redis_server.kill()
        first = limiter.try_acquire()  # must not raise
        if mode == "exact":
            assert limiter.fallback, "the call that met the outage already fell back"
        else:
            assert first.allowed  # periodic decides locally; the next sync notices
            assert not limiter.sync_now()
            assert limiter.gauge_readings().__next__().value == 1.0  # the fallback gauge
        admitted = sum(limiter.try_acquire().allowed for _ in range(600))
        # The local share, less what this instance already admitted in the window (the
        # first admission and the call that met the outage).
        assert admitted == 1000 // 4 - 2

        redis_server.start()
        with Stopwatch() as watch:
            wait_until(lambda: not limiter.fallback, 3.0, limiter.try_acquire)
        watch.within(1.0, "resuming after Redis came back")
    finally:
        limiter.close()
        store.close()


def test_fail_closed_rejects_while_redis_is_down(
    redis_server: RedisServer, redis_url: str, prefix: str
) -> None:
    store, limiter = limiter_on(redis_server, prefix, "exact", fail_open=False)
    try:
        assert limiter.try_acquire().allowed
        redis_server.kill()
        decisions = [limiter.try_acquire() for _ in range(20)]
        assert {(d.allowed, d.reason) for d in decisions} == {(False, "rate_limit")}
        redis_server.start()
        wait_until(lambda: not limiter.fallback, 3.0, limiter.try_acquire)
        assert limiter.try_acquire().allowed
    finally:
        limiter.close()
        store.close()


def test_a_slow_redis_is_cut_at_the_socket_timeout(
    redis_server: RedisServer, redis_url: str, prefix: str
) -> None:
    store = RedisStore.from_url(redis_url, prefix=prefix)  # the default socket timeout
    limiter = SharedSlidingWindowLimiter(store, name="slow", limit=100, mode="exact")
    reached: list[float] = []  # when each call reached the store (monotonic seconds)
    decide = store.decide

    def counted(*args: Any) -> Any:
        reached.append(time.monotonic())
        return decide(*args)

    store.decide = counted  # type: ignore[method-assign,assignment]
    try:
        wait_until(lambda: limiter.try_acquire().allowed and not limiter.fallback, 3.0, int)
        with frozen(redis_server.process) as thawed:
            with Stopwatch() as first:
                decision = limiter.try_acquire()
            assert decision.allowed
            assert limiter.fallback
            assert not thawed.is_set(), "the call waited until Redis continued"
            first.within(
                DEFAULT_SOCKET_TIMEOUT + 0.15,
                "a call meeting a stopped Redis",
            )
            reached.clear()
            with Stopwatch() as rest:
                decisions = [limiter.try_acquire() for _ in range(20)]
            # The breaker skips the stopped server: at most one probe per back-off elapsed.
            probes = 1 + int(rest.elapsed / DEFAULT_INITIAL_BACKOFF)
            assert len(reached) <= probes, (
                f"{len(reached)} of 20 calls reached the stopped Redis in {rest.elapsed:.3f} s "
                f"(at most {probes} probes): at {reached}; decisions {decisions}"
            )
    finally:
        limiter.close()
        store.close()


def test_an_unreachable_store_at_start_up_warns_or_refuses(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    with caplog.at_level(logging.WARNING, logger="resilience.backends"):
        assert check_store(url, fail_open=True) is False
    assert "unreachable at start-up" in caplog.text
    assert url in caplog.text
    with pytest.raises(ConfigError, match=r"unreachable at start-up.*fail_open = false"):
        check_store(url, fail_open=False)


def test_a_reachable_store_passes_the_start_up_check(redis_url: str) -> None:
    assert check_store(redis_url, fail_open=False)
