"""Observability through real gRPC servers (sync and aio): what the interceptors report reaches
the metrics and the crash reporter with the right values, tags and nothing secret."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from interceptors.harness import AioHarness, Failure, Harness, Recorder
from resilience.context import traffic_color
from resilience.observability import SentryReporter
from resilience.observability.sentry import generic_internal_message
from resilience.testing import ECHO_METHODS, EchoBehavior

from .conftest import MetricsHarness

UNARY = ECHO_METHODS["unary_unary"][1:]
SECRET = "Bearer " + uuid.uuid4().hex

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=["sync", "aio"])
def grpc_kind(request: pytest.FixtureRequest) -> Iterator[Harness]:
    made = AioHarness() if request.param == "aio" else Harness()
    try:
        yield made
    finally:
        made.close()


def test_calls_are_measured_on_both_sides(grpc_kind: Harness, harness: MetricsHarness) -> None:
    server_ended = Recorder()
    server = grpc_kind.server(observers=[harness.observer, server_ended])
    client = grpc_kind.client(server.address, observers=[harness.observer])
    harness.gauges.register(client.interceptor)
    with traffic_color("loadtest"):
        for _ in range(3):
            assert client.call("unary_unary") == [b"ping"]
    server.behavior.fail_rate = 1.0
    assert isinstance(client.call("unary_unary"), Failure)
    server_ended.wait_ended(4)  # an aborting aio handler's status can reach the client first

    for side in ("client", "server"):
        name = f"rpc.{side}.call.duration"
        ok = {"rpc.method": UNARY, "rpc.response.status_code": "OK", "resilience.color": "loadtest"}
        assert harness.value(name, ok) == 3, side
        failed = {"rpc.response.status_code": "UNAVAILABLE", "error.type": "UNAVAILABLE"}
        assert harness.value(name, {**failed, "resilience.color": "none"}) == 1, side
        assert harness.value(f"resilience.{side}.active_calls") == 0, side
    assert harness.value("resilience.breaker.state", {"rpc.method": UNARY}) == 0


def crash_on(invocation: int) -> Any:
    """An ``on_call`` hook that raises on its ``invocation``-th call (1 = the first)."""
    seen = []

    def hook(request: bytes, context: Any) -> None:
        seen.append(request)
        if len(seen) == invocation:
            raise KeyError("inventory row missing for " + request.decode())

    return hook


@pytest.mark.parametrize(
    ("shape", "invocation"),
    [("unary_unary", 1), ("stream_stream", 2)],  # the stream crashes after its first response
)
def test_a_handler_crash_is_reported_once_with_its_tags(
    grpc_kind: Harness, sentry_events: list[dict[str, Any]], shape: str, invocation: int
) -> None:
    server = grpc_kind.server(
        behavior=EchoBehavior(on_call=crash_on(invocation)), observers=[SentryReporter()]
    )
    client = grpc_kind.client(server.address)
    payload = uuid.uuid4().hex.encode()
    with traffic_color("shadow"):
        result = client.call(shape, payload, metadata=[("authorization", SECRET)])
    assert isinstance(result, Failure)
    assert result.code is not grpc.StatusCode.OK

    (event,) = sentry_events
    assert event["tags"]["rpc.method"] == ECHO_METHODS[shape][1:]
    assert event["tags"]["resilience.color"] == "shadow"
    assert event["tags"]["resilience.tier"] == "2"  # the default policy's tier
    (exception,) = event["exception"]["values"]
    assert exception["type"] == "KeyError"
    assert exception["stacktrace"]["frames"][-1]["function"] == "hook"
    assert SECRET not in repr(event)
    assert payload.decode() not in repr(event["exception"]["values"][0]["stacktrace"])


def test_the_client_sees_unknown_with_a_generic_message(grpc_kind: Harness) -> None:
    server = grpc_kind.server(behavior=EchoBehavior(on_call=crash_on(1)))
    client = grpc_kind.client(server.address)
    result = client.call("unary_unary", b"order-17")
    assert isinstance(result, Failure)
    assert result.code is grpc.StatusCode.UNKNOWN  # gRPC's code for a handler exception
    assert result.details == generic_internal_message()  # gRPC's would carry the text
