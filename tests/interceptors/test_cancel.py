"""A client that cancels a response stream: both sides record the call as CANCELLED, and a
cancellation does not count against the callee in the breaker."""

from __future__ import annotations

import grpc
import pytest

from resilience.testing import EchoBehavior

from .harness import Harness, Recorder


@pytest.mark.parametrize("shape", ["unary_stream", "stream_stream"])
def test_cancelled_stream_is_recorded_as_cancelled_on_both_sides(
    harness: Harness, shape: str
) -> None:
    client_seen, server_seen = Recorder(), Recorder()
    behavior = EchoBehavior(stream_items=100, stream_interval=0.02)
    server = harness.server(behavior=behavior, observers=[server_seen])
    client = harness.client(server.address, observers=[client_seen])

    harness.cancel_after_first(client, shape)

    client_seen.wait_ended(1)
    server_seen.wait_ended(1)
    assert client_seen.codes() == [grpc.StatusCode.CANCELLED]
    assert server_seen.codes() == [grpc.StatusCode.CANCELLED]
    assert len(server_seen.started) == 1


def test_cancellations_do_not_open_the_breaker(harness: Harness) -> None:
    from resilience.policy import Policy

    policy = Policy.from_dict({"methods": {"*": {"breaker": {"min_requests": 3}}}})
    server = harness.server(behavior=EchoBehavior(stream_items=100, stream_interval=0.02))
    client = harness.client(server.address, policy=policy)

    for _ in range(6):
        harness.cancel_after_first(client, "unary_stream")

    readings = {r.name: r.value for r in client.interceptor.gauge_readings()}
    assert readings["breaker.drop_probability"] == 0.0
