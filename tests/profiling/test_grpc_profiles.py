"""Profiles of a real gRPC server under bounded load (sync and aio, loopback): go tool pprof
finds the busy handler, and the samples of colored calls carry ``color`` (and ``method``,
``tier``), so ``-tagfocus=color=loadtest`` selects them. A profiling directory that cannot
be written never breaks serving."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

from resilience.context import traffic_color
from resilience.interceptors import (
    AioClientInterceptor,
    AioServerInterceptor,
    ClientInterceptor,
    ServerInterceptor,
)
from resilience.policy import Policy
from resilience.profiling import read_profile
from resilience.profiling._shared import current_profiler
from resilience.testing import (
    ECHO_METHODS,
    AioEchoServer,
    EchoBehavior,
    EchoServer,
    aio_echo_call,
    echo_call,
)

from .conftest import go_pprof

pytestmark = [pytest.mark.e2e, pytest.mark.timing]

CALLS = 12
"""Calls of each color: bounded load (each burns about 40 ms of CPU in its handler). An
in-process sampler takes the GIL when a busy thread hands it over (every 5 ms of pure Python,
and at every blocking call), so a handler must run several switch intervals to be sampled
reliably: at 10 ms a run on a busy host could miss one color's handler altogether."""


def crunch_for_loadtest_traffic() -> int:
    return _burn()


def crunch_for_plain_traffic() -> int:
    return _burn()


def _burn() -> int:
    end = time.thread_time() + 0.04
    total = 0
    while time.thread_time() < end:
        total += sum(range(200))
    return total


def busy_handler(request: bytes, context: Any) -> None:
    from resilience.context import current_color

    if current_color() == "loadtest":
        crunch_for_loadtest_traffic()
    else:
        crunch_for_plain_traffic()


def policy(directory: Path) -> Policy:
    return Policy.from_dict(
        {
            "methods": {"*": {"tier": 3}},
            "profiling": {"directory": str(directory), "rate": 100, "profile_seconds": 3600},
        }
    )


def check_profile(directory: Path) -> None:
    profiler = current_profiler()
    assert profiler is not None
    profiler.close()
    [path] = [str(p) for p in directory.iterdir()]
    # -nodefraction=0: pprof hides functions under 0.5% of the samples by default, and on a
    # loaded host a handler's share of a wall-clock profile can fall under that.
    top = go_pprof("-top", "-nodefraction=0", "-sample_index=cpu", path)
    assert "crunch_for_loadtest_traffic" in top, top
    assert "crunch_for_plain_traffic" in top, top
    focused = go_pprof(
        "-top", "-nodefraction=0", "-sample_index=cpu", "-tagfocus=color=loadtest", path
    )
    assert "crunch_for_loadtest_traffic" in focused
    assert "crunch_for_plain_traffic" not in focused
    labeled = [
        s.labels
        for s in read_profile(Path(path).read_bytes()).samples
        if s.stack[0][0] == "_burn" and s.stack[1][0] == "crunch_for_loadtest_traffic"
    ]
    assert labeled, "no sample in the colored handler"
    assert all(
        labels.get("color") == "loadtest"
        and labels.get("method") == ECHO_METHODS["unary_unary"]
        and labels.get("tier") == "3"
        for labels in labeled
    )


def test_sync_server_profile_finds_the_busy_handler_and_its_color(tmp_path: Path) -> None:
    directory = tmp_path / "profiles"
    interceptor = ServerInterceptor(policy(directory))
    with EchoServer(
        behavior=EchoBehavior(on_call=busy_handler), interceptors=[interceptor]
    ) as server:
        current_profiler().profile_for(600)  # type: ignore[union-attr]
        channel = grpc.intercept_channel(grpc.insecure_channel(server.address), ClientInterceptor())
        with channel:
            for _ in range(CALLS):
                with traffic_color("loadtest"):
                    echo_call(channel, "unary_unary")
                echo_call(channel, "unary_unary")
    check_profile(directory)


def test_aio_server_profile_attributes_tasks(tmp_path: Path) -> None:
    directory = tmp_path / "profiles"

    async def run() -> None:
        interceptor = AioServerInterceptor(policy(directory))
        async with AioEchoServer(
            behavior=EchoBehavior(on_call=busy_handler), interceptors=[interceptor]
        ) as server:
            current_profiler().profile_for(600)  # type: ignore[union-attr]
            async with grpc.aio.insecure_channel(
                server.address, interceptors=AioClientInterceptor()
            ) as channel:

                async def colored() -> None:
                    with traffic_color("loadtest"):
                        await aio_echo_call(channel, "unary_unary")

                for _ in range(CALLS):  # both colors in flight at once: tasks interleave
                    await asyncio.gather(colored(), aio_echo_call(channel, "unary_unary"))

    asyncio.run(run())
    check_profile(directory)


@pytest.mark.parametrize("aio", [False, True])
def test_an_unwritable_profile_directory_never_breaks_serving(tmp_path: Path, aio: bool) -> None:
    # A full disk cannot be made without privileges; a path under a regular file makes every
    # write fail with OSError (NotADirectoryError), as ENOSPC would.
    blocker = tmp_path / "file"
    blocker.write_text("")
    settings = Policy.from_dict(
        {"profiling": {"directory": str(blocker / "profiles"), "profile_seconds": 1}}
    )

    async def aio_calls() -> list[bytes]:
        async with AioEchoServer(
            behavior=EchoBehavior(on_call=busy_handler),
            interceptors=[AioServerInterceptor(settings)],
        ) as server:
            current_profiler().profile_for(600)  # type: ignore[union-attr]
            async with grpc.aio.insecure_channel(server.address) as channel:
                return [r for _ in range(5) for r in await aio_echo_call(channel, "unary_unary")]

    if aio:
        answers = asyncio.run(aio_calls())
    else:
        with EchoServer(
            behavior=EchoBehavior(on_call=busy_handler), interceptors=[ServerInterceptor(settings)]
        ) as server:
            current_profiler().profile_for(600)  # type: ignore[union-attr]
            with grpc.insecure_channel(server.address) as channel:
                answers = [r for _ in range(5) for r in echo_call(channel, "unary_unary")]
    assert answers == [b"ping"] * 5
    profiler = current_profiler()
    assert profiler is not None
    profiler.close()  # writes what it sampled: fails, counted
    assert profiler.store.errors >= 1
    assert not os.path.exists(blocker / "profiles")
