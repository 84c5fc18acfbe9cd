"""A handler that hands its downstream call to a worker thread (``executor.submit``, aio's
``loop.run_in_executor``): the pool thread starts in its own, empty context, so the call made
there carries no trace, color or deadline, unless the work is wrapped in
:func:`resilience.context.carry_context` (or started with ``asyncio.to_thread``, which copies
the context itself). Sync and aio middle servers; the downstream client is sync (it runs in the
pool thread)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from resilience.context import carry_context, current_color, traffic_color
from resilience.testing import EchoBehavior, echo_call

from .harness import AioHarness, Harness

pytestmark = pytest.mark.e2e

Seen = tuple[int, str | None, float | None]
"""What the last hop saw: (trace id, color, seconds left or None without a deadline)."""


@pytest.fixture(params=["sync", "aio"])
def middle(request: pytest.FixtureRequest) -> Iterator[Harness]:
    harness = AioHarness() if request.param == "aio" else Harness()
    try:
        yield harness
    finally:
        harness.close()


@pytest.fixture
def downstream() -> Iterator[Harness]:
    harness = Harness()
    try:
        yield harness
    finally:
        harness.close()


def _run(middle: Harness, downstream: Harness, way: str) -> tuple[int, list[Seen]]:
    seen: list[Seen] = []

    def last(request: bytes, context: Any) -> None:
        left = context.time_remaining()
        span = trace.get_current_span().get_span_context()
        seen.append((span.trace_id, current_color(), None if left > 1e9 else left))

    target = downstream.client(downstream.server(behavior=EchoBehavior(on_call=last)).address)
    pool = ThreadPoolExecutor(max_workers=2)

    def work(request: bytes) -> bytes:
        return echo_call(target.channel, "unary_unary", request)[0]

    def wrap(fn: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
        return carry_context(fn) if way == "carried" else fn

    def sync_hop(request: bytes, context: Any) -> bytes:
        return pool.submit(wrap(work), request).result(timeout=10)

    async def aio_hop(request: bytes, context: Any) -> bytes:
        if way == "to_thread":
            return await asyncio.to_thread(work, request)
        return await asyncio.get_running_loop().run_in_executor(pool, wrap(work), request)

    hop = aio_hop if middle.aio else sync_hop
    second = middle.server(behavior=EchoBehavior(on_call=hop))
    client = middle.client(second.address)
    tracer = TracerProvider().get_tracer("test")
    try:
        with tracer.start_as_current_span("root") as root, traffic_color("loadtest"):
            assert client.call(timeout=3.0) == [b"ping"]
    finally:
        pool.shutdown(wait=True)
    return root.get_span_context().trace_id, seen


@pytest.mark.parametrize("protected", [True, False], ids=["protected", "interceptors"])
def test_carry_context_takes_trace_color_and_deadline_into_a_pool_thread(
    middle: Harness, downstream: Harness, protected: bool
) -> None:
    middle.protected = downstream.protected = protected
    trace_id, seen = _run(middle, downstream, "carried")
    assert len(seen) == 1
    assert seen[0][:2] == (trace_id, "loadtest")
    assert seen[0][2] is not None
    assert 0 < seen[0][2] <= 3.05


def test_a_bare_pool_thread_starts_without_the_call_context(
    middle: Harness, downstream: Harness
) -> None:
    """What a user sees without the wrapper (gRPC and Python behaviour, kept as a reminder)."""
    trace_id, seen = _run(middle, downstream, "bare")
    assert len(seen) == 1
    assert seen[0][1:] == (None, None)
    assert seen[0][0] != trace_id


def test_asyncio_to_thread_carries_the_call_context() -> None:
    middle, downstream = AioHarness(), Harness()
    try:
        trace_id, seen = _run(middle, downstream, "to_thread")
    finally:
        middle.close()
        downstream.close()
    assert len(seen) == 1
    assert seen[0][:2] == (trace_id, "loadtest")
    assert seen[0][2] is not None
    assert 0 < seen[0][2] <= 3.05
