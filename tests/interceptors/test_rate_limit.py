"""Server-side limits: a call over the limit ends RESOURCE_EXHAUSTED with the limit named,
the reason in trailing metadata and a retry pushback; the limit frees up as the window moves."""

from __future__ import annotations

import grpc
import pytest

from resilience._base.keys import PUSHBACK, REJECT
from resilience.policy import Policy
from resilience.testing import ECHO_METHODS, EchoBehavior, ManualClock

from .harness import SHAPES, Failure, Harness, Recorder, masked_by_grpc_aio


def limited(limit: int, pattern: str = "*") -> Policy:
    return Policy.from_dict({"methods": {pattern: {"rate_limit": {"limit": limit, "window": 1.0}}}})


@pytest.mark.parametrize("shape", SHAPES)
def test_call_over_the_limit_is_rejected_with_reason_and_pushback(
    harness: Harness, shape: str
) -> None:
    clock = ManualClock(100.0)
    behavior = EchoBehavior()
    server_seen = Recorder()
    server = harness.server(
        behavior=behavior, policy=limited(3), clock=clock, observers=[server_seen]
    )
    client = harness.client(server.address)

    results = [client.call(shape) for _ in range(4)]

    assert not any(isinstance(result, Failure) for result in results[:3])
    # a response stream's end can be heard after the next call's (see Recorder.wait_ended)
    reasons = [o.reject_reason for _, o in server_seen.wait_ended(4)]
    assert sorted(reasons, key=str) == [None, None, None, "rate_limit"]
    rejected = results[3]
    if masked_by_grpc_aio(harness, shape, rejected):
        return
    assert isinstance(rejected, Failure)
    assert rejected.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    method = ECHO_METHODS[shape]
    assert rejected.details == (
        f"resilience: rejected by rate_limit (limit 3 per 1s on * (this call: {method}))"
    )
    assert rejected.trailing[REJECT] == "rate_limit"
    assert 0 <= int(rejected.trailing[PUSHBACK]) <= 1000
    assert behavior.calls == 3 * (2 if shape == "stream_stream" else 1)  # bidi: per message


def test_limit_frees_up_as_the_window_slides(harness: Harness) -> None:
    clock = ManualClock(100.0)
    server = harness.server(policy=limited(2), clock=clock)
    client = harness.client(server.address)
    for _ in range(2):
        client.call()
    assert isinstance(client.call(), Failure)

    clock.advance(1.0)

    assert client.call() == [b"ping"]


def test_a_service_wide_limit_is_one_budget_for_all_its_methods(harness: Harness) -> None:
    policy = limited(2, "/resilience.testing.Echo/*")
    server = harness.server(policy=policy, clock=ManualClock(100.0))
    client = harness.client(server.address)

    results = [client.call("unary_unary"), client.call("unary_stream"), client.call("stream_unary")]

    assert [isinstance(result, Failure) for result in results] == [False, False, True]


def test_a_rejection_names_the_shared_limit_that_ran_out(harness: Harness) -> None:
    """Two calls of one method use up a service-wide limit; a call of another method is then
    refused, and the details name the exhausted limit (its pattern), not only the method."""
    policy = limited(2, "/resilience.testing.Echo/*")
    server = harness.server(policy=policy, clock=ManualClock(100.0))
    client = harness.client(server.address)
    for _ in range(2):
        client.call("stream_unary")

    rejected = client.call("unary_unary")

    assert isinstance(rejected, Failure)
    assert rejected.details == (
        "resilience: rejected by rate_limit (limit 2 per 1s on /resilience.testing.Echo/* "
        f"(this call: {ECHO_METHODS['unary_unary']}))"
    )


def test_a_limit_on_one_method_names_just_that_method(harness: Harness) -> None:
    method = ECHO_METHODS["unary_unary"]
    server = harness.server(policy=limited(1, method), clock=ManualClock(100.0))
    client = harness.client(server.address)
    client.call("unary_unary")

    rejected = client.call("unary_unary")

    assert isinstance(rejected, Failure)
    assert rejected.details == f"resilience: rejected by rate_limit (limit 1 per 1s on {method})"


def test_rejections_reach_the_client_observer_and_breaker_as_failures(harness: Harness) -> None:
    recorder = Recorder()
    server = harness.server(policy=limited(1), clock=ManualClock(100.0))
    client = harness.client(server.address, observers=[recorder])

    client.call()
    client.call()

    assert recorder.codes() == [grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED]
