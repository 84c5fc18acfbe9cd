"""Call options as callers pass them through the client interceptor (both forms, sync and aio):
a timeout that is already spent (negative, NaN) fails the call unsent, as on a bare channel,
and never counts against the method's breaker; metadata given as a one-shot iterator reaches
every attempt of a retried or hedged call."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import grpc
import pytest

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
