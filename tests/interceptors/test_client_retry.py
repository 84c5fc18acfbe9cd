"""The policy's ``retry`` section: in-center retries of a read method's unary calls through the
client interceptor, sync and aio, on real echo servers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import grpc
import grpc.aio
import pytest

from resilience import AioClientInterceptor, ClientInterceptor, Policy
from resilience.testing import (
    ECHO_METHODS,
    AioEchoServer,
    EchoBehavior,
    EchoServer,
    aio_echo_call,
    echo_call,
)

pytestmark = pytest.mark.e2e

UNARY = ECHO_METHODS["unary_unary"]


def failing(times: int, trailing: Sequence[tuple[str, str]] = ()) -> EchoBehavior:
    """An echo server whose first ``times`` calls end UNAVAILABLE with ``trailing``."""
    seen = [0]

    def on_call(request: bytes, context: Any) -> Any:
        seen[0] += 1
        if seen[0] > times:
            return None
        if trailing:
            context.set_trailing_metadata(tuple(trailing))
        return context.abort(grpc.StatusCode.UNAVAILABLE, "down")  # aio: a coroutine, awaited

    return EchoBehavior(on_call=on_call)


def policy(read: bool = True, **retry: Any) -> Policy:
    section = {"base_delay": 0.001, "max_delay": 0.002, **retry}
    return Policy.from_dict({"methods": {UNARY: {"read": read, "retry": section}}})


def run(aio: bool, behavior: EchoBehavior, chosen: Policy) -> tuple[list[bytes] | None, Any]:
    """One unary call through the interceptor: (the responses, or None when it ended
    UNAVAILABLE; the interceptor)."""
    if aio:
        return asyncio.run(_run_aio(behavior, chosen))
    interceptor = ClientInterceptor(chosen, observers=())
    with EchoServer(behavior=behavior) as server:
        channel = grpc.intercept_channel(grpc.insecure_channel(server.address), interceptor)
        try:
            return echo_call(channel, "unary_unary", b"hi", timeout=30), interceptor
        except grpc.RpcError as error:
            return _unavailable(error.code()), interceptor
        finally:
            channel.close()


async def _run_aio(behavior: EchoBehavior, chosen: Policy) -> tuple[list[bytes] | None, Any]:
    interceptor = AioClientInterceptor(chosen, observers=())
    async with (
        AioEchoServer(behavior=behavior) as server,
        grpc.aio.insecure_channel(server.address, interceptors=interceptor) as channel,
    ):
        try:
            return await aio_echo_call(channel, "unary_unary", b"hi", timeout=30), interceptor
        except grpc.aio.AioRpcError as error:
            return _unavailable(error.code()), interceptor


def _unavailable(code: grpc.StatusCode) -> list[bytes] | None:
    """None for the expected failure; any other code fails the test."""
    if code is not grpc.StatusCode.UNAVAILABLE:
        raise AssertionError(f"the call ended {code}, not UNAVAILABLE")
    return None


def breaker_counts(interceptor: Any) -> tuple[int, int]:
    """The method's breaker counts (the aio channel names the method in bytes)."""
    registry = interceptor._pipeline.registry
    key = UNARY.encode() if isinstance(interceptor, AioClientInterceptor) else UNARY
    counts: tuple[int, int] = registry.state(key).breaker.counts()
    return counts


@pytest.mark.parametrize("aio", [False, True])
def test_a_read_call_is_retried_until_it_succeeds(aio: bool) -> None:
    behavior = failing(2)
    responses, interceptor = run(aio, behavior, policy())
    assert responses == [b"hi"]
    assert behavior.calls == 3  # two refused, then answered
    assert breaker_counts(interceptor) == (3, 1)  # the breaker saw every attempt


@pytest.mark.parametrize("aio", [False, True])
def test_attempts_are_bounded(aio: bool) -> None:
    seen: list[int] = []
    behavior = failing(10)
    inner = behavior.on_call
    assert inner is not None

    def counting(request: bytes, context: Any) -> Any:
        seen.append(1)
        return inner(request, context)

    behavior.on_call = counting
    responses, interceptor = run(aio, behavior, policy(max_attempts=3))
    assert responses is None
    assert len(seen) == 3
    assert breaker_counts(interceptor) == (3, 0)


@pytest.mark.parametrize("aio", [False, True])
def test_a_method_not_marked_read_is_never_retried(aio: bool) -> None:
    responses, interceptor = run(aio, failing(1), policy(read=False))
    assert responses is None
    assert breaker_counts(interceptor) == (1, 0)


@pytest.mark.parametrize("aio", [False, True])
def test_the_server_s_pushback_can_forbid_the_retry(aio: bool) -> None:
    behavior = failing(1, trailing=[("grpc-retry-pushback-ms", "-1")])
    responses, interceptor = run(aio, behavior, policy())
    assert responses is None
    assert breaker_counts(interceptor) == (1, 0)


@pytest.mark.parametrize("aio", [False, True])
def test_a_short_pushback_is_waited_then_retried(aio: bool) -> None:
    behavior = failing(1, trailing=[("grpc-retry-pushback-ms", "1")])
    responses, _ = run(aio, behavior, policy())
    assert responses == [b"hi"]


@pytest.mark.parametrize("aio", [False, True])
def test_an_empty_budget_stops_retries(aio: bool) -> None:
    responses, interceptor = run(aio, failing(1), policy(budget=0, min_retries=0))
    assert responses is None
    assert breaker_counts(interceptor) == (1, 0)


def test_a_code_not_listed_is_not_retried() -> None:
    responses, interceptor = run(False, failing(1), policy(codes=["DEADLINE_EXCEEDED"]))
    assert responses is None
    assert breaker_counts(interceptor) == (1, 0)
