"""Ordinary setups that broke: a sync chain without deadlines, several ``baggage`` headers, and
the status of a crashed handler (each test failed before its fix)."""

from __future__ import annotations

import time
from typing import Any

import grpc
import pytest
from opentelemetry import baggage
from opentelemetry.context import attach, detach
from opentelemetry.trace import NonRecordingSpan, SpanContext

from resilience._base.clock import NO_DEADLINE_BEYOND, finite_remaining, remaining_until
from resilience._base.keys import COLOR_BAGGAGE, REJECT
from resilience.context import current_color, is_shadow, time_remaining, traffic_color
from resilience.failover._core import DEFAULT_FAILOVER_CODES
from resilience.interceptors._metadata import extract_context, incoming, inner_context, outgoing
from resilience.policy import Policy
from resilience.policy._schema import DEFAULT_FAILURE_CODES
from resilience.testing import EchoBehavior, ManualClock

from .harness import Failure, Harness

COLOR = f"{COLOR_BAGGAGE}=loadtest"
TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736


def test_no_deadline_reads_none_and_a_two_hop_chain_works(harness: Harness) -> None:
    seen: list[float | None] = []

    def record(request: bytes, context: Any) -> None:
        seen.append(time_remaining())

    last = harness.server(behavior=EchoBehavior(on_call=record))
    forward = harness.forward(harness.client(last.address))

    def record_then_forward(request: bytes, context: Any) -> Any:
        seen.append(time_remaining())
        return forward(request, context)

    first = harness.server(behavior=EchoBehavior(on_call=record_then_forward))
    client = harness.client(first.address, plain=True)

    assert client.call(timeout=None) == [b"ping"]
    assert seen == [None, None]


def test_gRPCs_infinite_remaining_time_means_no_deadline() -> None:
    assert finite_remaining(9.223372036854776e18) is None
    assert finite_remaining(float("nan")) is None
    assert finite_remaining(None) is None
    assert finite_remaining(2.5) == 2.5
    assert finite_remaining(-1.0) == -1.0
    assert remaining_until(100.0 + NO_DEADLINE_BEYOND * 2, 100.0) is None
    assert remaining_until(float("inf"), 0.0) is None
    assert remaining_until(3.0, 1.0) == 2.0


def test_an_absurd_inherited_deadline_is_not_sent_onward(harness: Harness) -> None:
    from resilience.context import CallContext, use_call_context

    seen: list[float | None] = []
    behavior = EchoBehavior(on_call=lambda request, context: seen.append(time_remaining()))
    server = harness.server(behavior=behavior)
    client = harness.client(server.address)

    with use_call_context(CallContext(deadline=9.2e18)):
        assert client.call(timeout=None) == [b"ping"]
    assert seen == [None]


@pytest.mark.parametrize("shape", ["unary_unary", "unary_stream", "stream_stream"])
def test_a_call_made_after_the_served_calls_deadline_is_not_sent(
    harness: Harness, shape: str
) -> None:
    """A handler that calls onward after its own deadline passed (sync handlers run on past
    it) gets DEADLINE_EXCEEDED at once, as Go's gRPC does with an expired context: gRPC Python
    would send it with a zero timeout, which a warm loopback channel may still complete."""
    from resilience.context import CallContext, use_call_context

    behavior = EchoBehavior()
    server = harness.server(behavior=behavior)
    client = harness.client(server.address)
    assert client.call() == [b"ping"]  # a warm channel

    with use_call_context(CallContext(deadline=time.monotonic() - 0.001)):
        result = client.call(shape, timeout=None)

    assert isinstance(result, Failure)
    assert result.code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert result.trailing[REJECT] == "deadline"
    assert behavior.calls == 1  # the warm-up only


def test_several_baggage_headers_are_read_as_one_list(harness: Harness) -> None:
    seen: list[tuple[str | None, bool, dict[str, object]]] = []

    def record(request: bytes, context: Any) -> None:
        seen.append((current_color(), is_shadow(), dict(baggage.get_all())))

    server = harness.server(behavior=EchoBehavior(on_call=record))
    client = harness.client(server.address, plain=True)
    # What sentry-sdk's GRPCIntegration does on a sync channel: a baggage header of its own
    # after the one that carries the color.
    metadata = [("baggage", f"tenant=acme,{COLOR}"), ("baggage", "sentry-trace_id=abc")]

    assert client.call(timeout=None, metadata=metadata) == [b"ping"]
    assert seen == [
        ("loadtest", True, {"tenant": "acme", COLOR_BAGGAGE: "loadtest", "sentry-trace_id": "abc"})
    ]


def test_repeated_baggage_members_are_read_once() -> None:
    found = incoming([("baggage", f"a=1,{COLOR}"), ("baggage", f"{COLOR},b=2")])
    assert found.carrier == {"baggage": f"a=1,{COLOR},b=2"}
    expected = {"a": "1", COLOR_BAGGAGE: "loadtest", "b": "2"}
    assert baggage.get_all(extract_context(found)) == expected


def test_the_color_merges_into_every_baggage_header_once() -> None:
    existing = [
        ("baggage", f"a=1,{COLOR_BAGGAGE}=old"),
        ("x", "y"),
        ("baggage", f"{COLOR_BAGGAGE}=old2,b=2"),
    ]

    written = outgoing(existing, color="loadtest", tier=None, failover=False)

    members = [m for key, value in written if key == "baggage" for m in value.split(",")]
    assert sorted(members) == sorted(["a=1", "b=2", COLOR])
    assert ("x", "y") in written


def test_a_header_holding_only_an_old_color_is_removed() -> None:
    existing = [("baggage", "a=1"), ("baggage", f"{COLOR_BAGGAGE}=old")]

    written = outgoing(existing, color="loadtest", tier=None, failover=False)

    assert [value for key, value in written if key == "baggage"] == [f"a=1,{COLOR}"]


def test_the_application_s_baggage_reaches_the_server_with_the_color(harness: Harness) -> None:
    seen: list[dict[str, object]] = []
    behavior = EchoBehavior(on_call=lambda request, context: seen.append(dict(baggage.get_all())))
    server = harness.server(behavior=behavior)
    client = harness.client(server.address)

    with traffic_color("loadtest"):
        client.call(metadata=[("baggage", "tenant=acme"), ("baggage", "region=eu")])

    assert seen == [{"tenant": "acme", "region": "eu", COLOR_BAGGAGE: "loadtest"}]


def test_a_crash_is_unknown_as_in_grpc_and_counts_for_breaker_and_failover(
    harness: Harness,
) -> None:
    server = harness.server(behavior=EchoBehavior(raise_error=True))
    client = harness.client(server.address)

    result: Any = client.call()

    assert result.code is grpc.StatusCode.UNKNOWN
    assert "raised on purpose" not in result.details  # gRPC's own message carries the text
    # A crash counts as the callee's failure, as INTERNAL did before.
    assert grpc.StatusCode.UNKNOWN in DEFAULT_FAILURE_CODES
    assert grpc.StatusCode.UNKNOWN in DEFAULT_FAILOVER_CODES


def test_existing_trace_headers_stay_and_the_context_baggage_joins_theirs() -> None:
    """An outer interceptor (sentry-sdk on an aio channel) wrote its own baggage: the
    application's OpenTelemetry baggage and the trace context still travel, each once."""
    token = attach(baggage.set_baggage("tenant", "acme"))
    try:
        written = outgoing(
            [("sentry-trace", "abc-def-1"), ("baggage", "sentry-trace_id=abc")],
            color="loadtest",
            tier=None,
            failover=False,
            span=NonRecordingSpan(SpanContext(TRACE_ID, 0x1234, is_remote=False)),
        )
    finally:
        detach(token)

    assert [key for key, _ in written].count("baggage") == 1
    assert dict(written)["baggage"].split(",") == ["sentry-trace_id=abc", "tenant=acme", COLOR]
    assert dict(written)["traceparent"].split("-")[1] == f"{TRACE_ID:032x}"


def test_a_traceparent_the_caller_wrote_is_kept() -> None:
    mine = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    written = outgoing([("traceparent", mine)], color="loadtest", tier=None, failover=False)

    assert [value for key, value in written if key == "traceparent"] == [mine]


def test_interceptors_inside_ours_see_the_calls_baggage() -> None:
    """opentelemetry-instrumentation-grpc inside ours rewrites the baggage header from the
    current context: that context must hold the color and the caller's metadata entries."""
    written = outgoing([("baggage", "tenant=acme")], color="loadtest", tier=None, failover=False)

    inner = inner_context(written, "loadtest")

    assert inner is not None
    assert baggage.get_all(inner) == {"tenant": "acme", COLOR_BAGGAGE: "loadtest"}


def test_no_inner_context_when_the_current_one_holds_the_baggage() -> None:
    token = attach(baggage.set_baggage(COLOR_BAGGAGE, "loadtest"))
    try:
        written = outgoing(None, color="loadtest", tier=None, failover=False)
        assert inner_context(written, "loadtest") is None
    finally:
        detach(token)


def test_crashes_trip_the_breaker_by_default(harness: Harness) -> None:
    behavior = EchoBehavior(raise_error=True)
    server = harness.server(behavior=behavior)
    policy = Policy.from_dict({"methods": {"*": {"breaker": {"min_requests": 5}}}})
    client = harness.client(server.address, policy=policy, clock=ManualClock(100.0))

    results: list[Any] = [client.call() for _ in range(40)]

    drops = [r for r in results if r.trailing.get(REJECT) == "breaker"]
    assert len(drops) >= 10  # the drop probability reaches 0.9 after a few crashes
    assert behavior.calls == 40 - len(drops)
