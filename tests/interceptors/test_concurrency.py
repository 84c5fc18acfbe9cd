"""Many calls at once (16 threads, or 200 asyncio tasks): every call succeeds, each one is
reported exactly once per side, and each handler sees its own caller's color."""

from __future__ import annotations

from typing import Any

from resilience.context import current_color, traffic_color
from resilience.policy import Policy
from resilience.testing import EchoBehavior

from .harness import SHAPES, Harness, Recorder

FULL = Policy.from_dict(
    {
        "methods": {
            "*": {
                # min_requests above the burst: see test_a_burst_after_idle_is_not_dropped
                "breaker": {"min_requests": 1000},
                "timeout": {"t_avg": 1.0, "t_hwm": 5.0, "t_max": 10.0},
                "rate_limit": {"limit": 100000, "window": 1.0, "tiered": True},
            }
        }
    }
)


def test_concurrent_calls_all_succeed_and_are_each_reported_once(harness: Harness) -> None:
    calls = 200
    client_seen, server_seen = Recorder(), Recorder()
    server = harness.server(policy=FULL, observers=[server_seen])
    client = harness.client(server.address, policy=FULL, observers=[client_seen])
    shapes = [SHAPES[i % 4] for i in range(calls)]

    results = harness.concurrently(client, shapes)

    assert all(isinstance(result, list) for result in results)
    assert len(client_seen.ended) == len(server_seen.wait_ended(calls)) == calls
    assert len(client_seen.started) == len(server_seen.started) == calls


def test_concurrent_callers_keep_their_own_colors(harness: Harness) -> None:
    pairs: list[tuple[bytes, str | None]] = []

    def look(request: bytes, context: Any) -> None:
        pairs.append((request, current_color()))

    server = harness.server(behavior=EchoBehavior(on_call=look))
    client = harness.client(server.address, policy=FULL)

    def colored(index: int) -> None:
        with traffic_color(f"c{index}"):
            client.call(payload=f"c{index}".encode())

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(colored, range(64)))

    assert len(pairs) == 64
    assert all(request.decode() == color for request, color in pairs)


def test_a_burst_after_idle_is_not_dropped(harness: Harness) -> None:
    server = harness.server()
    client = harness.client(server.address)  # the default breaker: min_requests 20

    results = harness.concurrently(client, ["unary_unary"] * 200)

    assert all(isinstance(result, list) for result in results)
