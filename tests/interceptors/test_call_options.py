"""Call options as callers pass them through the client interceptor (both forms, sync and aio):
a timeout that is already spent (negative, NaN) fails the call unsent, as on a bare channel,
and never counts against the method's breaker; one of the wrong type raises gRPC's TypeError;
metadata given as a one-shot iterator reaches every attempt of a retried or hedged call;
``wait_for_ready=True`` waits for a server that starts later."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import pytest

from ports import free_port
from resilience._base.keys import REJECT
from resilience.policy import Policy
from resilience.testing import ECHO_METHODS, EchoBehavior

from .harness import Client, Failure, Harness, Recorder

pytestmark = pytest.mark.e2e

PATTERN = "/resilience.testing.Echo/*"
GUARDED = Policy.from_dict(
    {
        "methods": {
            PATTERN: {"breaker": {}, "timeout": {"t_max": 5.0}, "bulkhead": {"max_concurrent": 8}}
        }
    }
)
"""The client sections a spent timeout meets: the breaker, the dynamic timeout, a bulkhead."""


@pytest.mark.parametrize("timeout", [-1.0, -0.5, math.nan], ids=["-1", "-0.5", "nan"])
@pytest.mark.parametrize("shape", ["unary_unary", "stream_stream"])
def test_a_spent_timeout_fails_unsent_and_the_breaker_does_not_count_it(
    harness: Harness, timeout: float, shape: str
) -> None:
    """``timeout=deadline - now`` computed after the deadline passed is negative: gRPC fails
    such a call with DEADLINE_EXCEEDED before sending it. Through the client interceptor it
    must too (a bulkhead used to turn it into a timeout of 0 s, which gRPC sends and the
    server may run), and the breaker must not count the caller's own expired deadline as the
    server's failure (40 of them used to open it: the calls that followed, to a healthy
    server, were dropped)."""
    behavior = EchoBehavior()
    server = harness.server(behavior=behavior)
    client = harness.client(server.address, policy=GUARDED)
    assert client.call() == [b"ping"]  # a warm channel

    spent = [client.call(shape, timeout=timeout) for _ in range(40)]

    assert {(getattr(r, "code", None), getattr(r, "trailing", {}).get(REJECT)) for r in spent} == {
        (grpc.StatusCode.DEADLINE_EXCEEDED, "deadline")
    }
    assert behavior.calls == 1  # the warm-up only: nothing was sent
    after = [client.call(shape) for _ in range(20)]
    assert [r for r in after if isinstance(r, Failure)] == []


UNARY = ECHO_METHODS["unary_unary"]
RETRIED = Policy.from_dict(
    {
        "methods": {
            PATTERN: {
                "read": True,
                "retry": {"base_delay": 0.001, "max_delay": 0.002, "max_attempts": 3},
            }
        }
    }
)
HEDGED = Policy.from_dict(
    {"methods": {PATTERN: {"read": True, "hedging": {"delay": 0.001, "max_attempts": 3}}}}
)
ONE_SHOT: dict[str, Callable[[], Iterable[tuple[str, Any]]]] = {
    "generator": lambda: (item for item in [("x-user", "ada"), ("x-token-bin", b"\x00\x01")]),
    "zip": lambda: zip(["x-user", "x-token-bin"], ["ada", b"\x00\x01"], strict=True),
}
"""Metadata a caller may pass that can be read only once."""


def failing_twice(seen: list[tuple[str | None, bytes | None]]) -> EchoBehavior:
    """An echo server that records each call's ``x-user`` and ``x-token-bin`` and fails the
    first two with UNAVAILABLE (retried, or hedged at once)."""

    def on_call(request: bytes, context: Any) -> Any:
        metadata = dict(context.invocation_metadata())
        seen.append((metadata.get("x-user"), metadata.get("x-token-bin")))
        if len(seen) <= 2:
            return context.abort(grpc.StatusCode.UNAVAILABLE, "down")  # aio: awaited
        return None

    return EchoBehavior(on_call=on_call)


def raw_call(harness: Harness, client: Client, metadata: Iterable[tuple[str, Any]]) -> Any:
    """A unary call on the client's channel with ``metadata`` passed as it is (the harness's
    own calls turn it into a tuple first)."""
    say: Any = client.channel.unary_unary(UNARY)
    if not harness.aio:
        return say(b"ping", timeout=10, metadata=metadata)

    async def call() -> Any:
        return await say(b"ping", timeout=10, metadata=metadata)

    return harness.run(call())  # type: ignore[attr-defined]


@pytest.mark.parametrize("policy", [RETRIED, HEDGED], ids=["retry", "hedging"])
@pytest.mark.parametrize("form", list(ONE_SHOT))
def test_every_attempt_carries_metadata_given_as_a_one_shot_iterator(
    harness: Harness, form: str, policy: Policy
) -> None:
    """gRPC reads ``metadata=`` once per call, so a generator or ``zip(...)`` works on a bare
    channel. A retried or hedged call sends it again with each attempt: every attempt must
    carry it (the second and third used to go without the caller's headers)."""
    seen: list[tuple[str | None, bytes | None]] = []
    server = harness.server(behavior=failing_twice(seen))
    client = harness.client(server.address, policy=policy)

    assert raw_call(harness, client, ONE_SHOT[form]()) == b"ping"
    assert seen == [("ada", b"\x00\x01")] * 3


@pytest.mark.parametrize("timeout", ["5", [1]], ids=["str", "list"])
def test_a_timeout_of_the_wrong_type_raises_gRPCs_error_and_the_call_ends(
    harness: Harness, timeout: Any
) -> None:
    """``timeout="5"``: gRPC raises TypeError, and the observers that heard the call start
    hear it end (an in-flight gauge must not keep it), as before the spent-timeout check."""
    recorder = Recorder()
    server = harness.server()
    client = harness.client(server.address, observers=[recorder])
    say: Any = client.channel.unary_unary(UNARY)

    async def aio_call() -> Any:
        return await say(b"ping", timeout=timeout)

    def call() -> Any:
        if harness.aio:
            return harness.run(aio_call())  # type: ignore[attr-defined]
        return say(b"ping", timeout=timeout)

    with pytest.raises(TypeError):
        call()

    assert len(recorder.started) == len(recorder.wait_ended(len(recorder.started)))
    assert server.behavior.calls == 0


def test_wait_for_ready_waits_for_a_server_that_starts_later(harness: Harness) -> None:
    """``wait_for_ready=True`` through the client interceptor: a call made while nothing
    listens on its port waits (instead of failing UNAVAILABLE at once) for the server started
    there 0.5 s later, and is answered within its timeout; the call ends OK for observers."""
    recorder = Recorder()
    port = free_port()
    client = harness.client(f"127.0.0.1:{port}", policy=GUARDED, observers=[recorder])
    say: Any = client.channel.unary_unary(UNARY)
    assert isinstance(client.call(timeout=10), Failure)  # nothing listens: UNAVAILABLE
    # (one failure: the breaker drops nothing below its min_requests of 20)
    server = grpc.server(ThreadPoolExecutor(2))
    service, method = UNARY.strip("/").split("/")
    echo: Any = grpc.unary_unary_rpc_method_handler(lambda request, context: request)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service, {method: echo}),)
    )
    assert server.add_insecure_port(f"127.0.0.1:{port}") == port
    later = threading.Timer(0.5, server.start)
    later.start()
    try:
        if harness.aio:

            async def call() -> Any:
                return await say(b"ping", timeout=10, wait_for_ready=True)

            answer = harness.run(call())  # type: ignore[attr-defined]
        else:
            answer = say(b"ping", timeout=10, wait_for_ready=True)
    finally:
        later.join()
        server.stop(None)
    assert answer == b"ping"
    codes = [outcome.code for _, outcome in recorder.wait_ended(2)]
    assert codes == [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.OK]
