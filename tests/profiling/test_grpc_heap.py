"""A heap profile of a real gRPC server (sync and aio, loopback) shows the handler that keeps
memory: the policy's RSS threshold starts tracemalloc for heap_seconds, the handler allocates
meanwhile, and go tool pprof finds it in the heap profile written after."""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

from resilience.interceptors import AioServerInterceptor, ServerInterceptor
from resilience.policy import Policy
from resilience.profiling._shared import current_profiler
from resilience.testing import AioEchoServer, EchoBehavior, EchoServer, aio_echo_call, echo_call

from .conftest import go_pprof

pytestmark = [pytest.mark.e2e, pytest.mark.timing]

KEPT: list[bytes] = []


def hoarding_handler_for_heap(request: bytes, context: Any) -> None:
    KEPT.extend(bytes(2048) for _ in range(200))  # 400 kB kept per call


def wait_for(condition: Any, what: str, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {limit} s"
        time.sleep(0.05)


@pytest.mark.parametrize("aio", [False, True], ids=["sync", "aio"])
def test_the_heap_profile_names_the_hoarding_handler(tmp_path: Path, aio: bool) -> None:
    directory = tmp_path / "profiles"
    policy = Policy.from_dict(
        {
            "profiling": {
                "directory": str(directory),
                "heap_rss_bytes": 1,  # always past: the first check starts tracing
                "heap_seconds": 2,
                "check_interval": 0.1,
            }
        }
    )
    behavior = EchoBehavior(on_call=hoarding_handler_for_heap)
    assert not tracemalloc.is_tracing()
    try:
        if aio:

            async def run() -> None:
                async with AioEchoServer(
                    behavior=behavior, interceptors=[AioServerInterceptor(policy)]
                ) as server:
                    await asyncio.to_thread(wait_for, tracemalloc.is_tracing, "tracing starts")
                    async with grpc.aio.insecure_channel(server.address) as channel:
                        for _ in range(5):
                            await aio_echo_call(channel, "unary_unary")
                    profiler = current_profiler()
                    assert profiler is not None
                    await asyncio.to_thread(
                        wait_for, lambda: profiler.profiles["heap"] == 1, "a heap profile"
                    )

            asyncio.run(run())
        else:
            with EchoServer(behavior=behavior, interceptors=[ServerInterceptor(policy)]) as server:
                wait_for(tracemalloc.is_tracing, "tracing starts")
                with grpc.insecure_channel(server.address) as channel:
                    for _ in range(5):
                        echo_call(channel, "unary_unary")
                profiler = current_profiler()
                assert profiler is not None
                wait_for(lambda: profiler.profiles["heap"] == 1, "a heap profile")
    finally:
        KEPT.clear()
    assert not tracemalloc.is_tracing()  # the profiler stopped what it started
    [path] = [str(p) for p in directory.iterdir() if p.name.startswith("heap-")]
    top = go_pprof("-top", "-sample_index=inuse_space", path)
    assert "hoarding_handler_for_heap" in top
