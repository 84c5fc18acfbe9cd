"""A policy reload applies in full or not at all, even while calls are in flight and even when
closing what the old policy held fails: no call fails because of a reload, and the final
policy is the one in force, hooks included.

The failing close is real: a policy recording traffic to ``/dev/full`` (every write fails with
ENOSPC; the recorder logs it and keeps the line buffered, so closing the file fails too), as a
recording on a full disk would.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

from resilience.policy import Policy
from resilience.testing import ECHO_METHODS, aio_echo_call, echo_call

from ._ending import NEVER_SHED, Stack
from .conftest import LoopThread, wait_until

FULL_DISK = "/dev/full"
CALLS, CALLERS, RELOADS = 200, 4, 20
SHAPES = tuple(ECHO_METHODS)

pytestmark = pytest.mark.skipif(
    not os.access(FULL_DISK, os.W_OK), reason="needs /dev/full (a disk that is always full)"
)


def server_policy(record: str | Path, *, limits: bool) -> Policy:
    """Every call recorded to ``record``; ``limits``: an overload guard and a memory rate limit
    (never reached), else none: each reload changes the methods' state and the recorder."""
    methods: dict[str, Any] = {}
    if limits:
        methods["*"] = {
            "overload": {"cpu_thresholds": NEVER_SHED},
            "rate_limit": {"limit": 1_000_000, "window": 60.0},
        }
    return Policy.from_dict({"record": {"path": str(record), "rate": 1.0}, "methods": methods})


def client_policy(*, breaker: bool) -> Policy:
    return Policy.from_dict(
        {"methods": {"*": {"breaker": {"min_requests": 1_000}}}} if breaker else {}
    )


def lines(path: Path) -> int:
    return len(path.read_bytes().splitlines()) if path.exists() else 0


def one_call(stack: Stack, shape: str = "unary_unary") -> list[bytes]:
    if stack.loop is None:
        return echo_call(stack.channel, shape, b"x", timeout=30)
    return stack.loop.run(aio_echo_call(stack.channel, shape, b"x", timeout=30))


def test_a_reload_whose_old_recording_cannot_be_closed_applies_in_full(
    flavour: str, loop_thread: LoopThread, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    after = tmp_path / "after.jsonl"
    stack = Stack(
        loop_thread if flavour == "aio" else None,
        server_policy=server_policy(FULL_DISK, limits=False),
    )
    try:
        assert one_call(stack) == [b"x"]  # recorded to the full disk: the line stays buffered
        new = server_policy(after, limits=True)
        with caplog.at_level(logging.WARNING, logger="resilience"):
            stack.server.update_policy(new)  # closing /dev/full fails: logged, not raised
        assert stack.server.policy is new
        assert one_call(stack) == [b"x"]
        assert lines(after) == 2  # the new recorder's header and this call: its hook is in
        stack.server.update_policy(server_policy(FULL_DISK, limits=False))
        assert one_call(stack) == [b"x"]
    finally:
        stack.close()  # closes /dev/full again, failing: logged, not raised
    assert any("No space left" in record.getMessage() for record in caplog.records)


def test_close_does_not_raise_when_the_recording_cannot_be_closed(
    flavour: str, loop_thread: LoopThread, caplog: pytest.LogCaptureFixture
) -> None:
    stack = Stack(
        loop_thread if flavour == "aio" else None,
        server_policy=server_policy(FULL_DISK, limits=False),
    )
    try:
        assert one_call(stack) == [b"x"]
    finally:
        with caplog.at_level(logging.WARNING, logger="resilience"):
            stack.close()
    assert any("No space left" in record.getMessage() for record in caplog.records)


def test_reloads_during_traffic_fail_no_call_and_the_last_policy_is_in_force(
    flavour: str, loop_thread: LoopThread, tmp_path: Path
) -> None:
    """200 calls of every shape from 4 callers while 20 reloads alternate two server policies
    (one recording to a full disk, whose close fails at every reload away from it) and two
    client policies, one reload after every 10 calls have ended."""
    recorded = tmp_path / "recorded.jsonl"
    policies = [server_policy(recorded, limits=True), server_policy(FULL_DISK, limits=False)]
    stack = Stack(loop_thread if flavour == "aio" else None, server_policy=policies[0])
    results: list[Any] = []
    try:
        running = _traffic(stack, results)
        for reload in range(1, RELOADS + 1):
            assert wait_until(_ended(results, reload * CALLS // (RELOADS + 1)))
            stack.server.update_policy(policies[reload % 2])
            stack.client.update_policy(client_policy(breaker=reload % 2 == 1))
        running.result(60)
        final = policies[RELOADS % 2]
        assert stack.server.policy is final
        before = lines(recorded)
        assert one_call(stack) == [b"x"]
        assert lines(recorded) == before + 1  # the final policy's recording hook is in
        broken = stack.check(CALLS + 1)
    finally:
        stack.close()
    failed = [result for result in results if not isinstance(result, list)]
    assert failed == []
    assert len(results) == CALLS
    assert broken == []


def _traffic(stack: Stack, results: list[Any]) -> Any:
    """Start CALLS calls (every shape in turn) from CALLERS callers; a future of their end.
    Each call's outcome (responses, or the error) is appended to ``results``."""
    shapes = [SHAPES[index % len(SHAPES)] for index in range(CALLS)]
    share = [shapes[caller::CALLERS] for caller in range(CALLERS)]
    if stack.loop is None:
        pool = ThreadPoolExecutor(CALLERS)

        def caller(mine: list[str]) -> None:
            for shape in mine:
                try:
                    results.append(echo_call(stack.channel, shape, b"x", timeout=30))
                except grpc.RpcError as error:
                    results.append(error)

        futures = [pool.submit(caller, mine) for mine in share]
        pool.shutdown(wait=False)
        return _All(futures)

    async def aio_caller(mine: list[str]) -> None:
        for shape in mine:
            try:
                results.append(await aio_echo_call(stack.channel, shape, b"x", timeout=30))
            except grpc.aio.AioRpcError as error:
                results.append(error)

    async def all_callers() -> None:
        await asyncio.gather(*(aio_caller(mine) for mine in share))

    return stack.loop.submit(all_callers())


def _ended(results: list[Any], count: int) -> Callable[[], bool]:
    return lambda: len(results) >= count


class _All:
    def __init__(self, futures: list[Any]) -> None:
        self._futures = futures

    def result(self, timeout: float) -> None:
        for future in self._futures:
            future.result(timeout)
