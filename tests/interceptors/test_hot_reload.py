"""update_policy under load drops no call; a method whose settings did not change keeps its
algorithm state, a limit whose number alone changed keeps its window's count, and a method
whose settings changed otherwise starts afresh."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from resilience.policy import Policy
from resilience.testing import ManualClock

from .harness import SHAPES, Failure, Harness

UNARY = "/resilience.testing.Echo/Unary"
OTHER = "/resilience.testing.Echo/ServerStream"


def policy(limit: int, other_tier: int = 2, window: float = 1.0) -> Policy:
    return Policy.from_dict(
        {
            "methods": {
                "*": {"breaker": {"min_requests": 1000}},
                UNARY: {"rate_limit": {"limit": limit, "window": window}},
                OTHER: {"tier": other_tier},
            }
        }
    )


def test_reloading_under_load_drops_no_call(harness: Harness) -> None:
    policies = [policy(100000), policy(100000, other_tier=3)]
    server = harness.server(policy=policies[0])
    client = harness.client(server.address, policy=policies[0])
    stop = threading.Event()
    results: list[Any] = []

    def load() -> None:
        while not stop.is_set():
            results.extend(harness.concurrently(client, [SHAPES[len(results) % 4]] * 8))

    with ThreadPoolExecutor(max_workers=1) as pool:
        running = pool.submit(load)
        for index in range(40):
            server.interceptor.update_policy(policies[index % 2])
            client.interceptor.update_policy(policies[(index + 1) % 2])
            if index % 10 == 9:
                threading.Event().wait(0.02)  # let some calls straddle a reload
        stop.set()
        running.result(30)

    assert len(results) >= 8
    assert [r for r in results if isinstance(r, Failure)] == []


def test_unchanged_method_keeps_its_limiter_across_a_reload(harness: Harness) -> None:
    server = harness.server(policy=policy(2), clock=ManualClock(100.0))
    client = harness.client(server.address)
    client.call()
    client.call()

    server.interceptor.update_policy(policy(2, other_tier=4))  # only another method changed

    assert isinstance(client.call(), Failure)


def test_a_changed_limit_counts_the_calls_of_its_window(harness: Harness) -> None:
    server = harness.server(policy=policy(2), clock=ManualClock(100.0))
    client = harness.client(server.address)
    client.call()
    client.call()

    server.interceptor.update_policy(policy(3))

    assert client.call() == [b"ping"]
    assert isinstance(client.call(), Failure)  # 3 in this window, not 2 + 3
    assert server.interceptor.policy == policy(3)


def test_changed_method_starts_with_fresh_state(harness: Harness) -> None:
    server = harness.server(policy=policy(2), clock=ManualClock(100.0))
    client = harness.client(server.address)
    client.call()
    client.call()

    server.interceptor.update_policy(policy(3, window=2.0))

    assert client.call() == [b"ping"]
    assert server.interceptor.policy == policy(3, window=2.0)
