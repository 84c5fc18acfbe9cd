"""Client and server spans: recorded with the conventions' attributes when an SDK is set,
nothing at all otherwise."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NoOpTracerProvider, SpanKind, StatusCode

from resilience.events import CallInfo, CallOutcome
from resilience.observability import CallTracer, default_call_tracer


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    yield exporter
    exporter.shutdown()


def sdk_tracer(exporter: InMemorySpanExporter) -> CallTracer:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return CallTracer(tracer_provider=provider)


def test_without_a_provider_no_span_is_started() -> None:
    tracer = CallTracer(tracer_provider=NoOpTracerProvider())
    call = CallInfo("client", "/echo.Echo/Say")
    span = tracer.start(call)
    assert span is None
    assert not tracer.enabled()
    tracer.end(span, call, CallOutcome(grpc.StatusCode.OK, 0.0))


def test_the_default_tracer_is_off_while_the_global_provider_is_the_proxy() -> None:
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        pytest.skip("another test installed a global tracer provider")
    assert default_call_tracer().start(CallInfo("server", "/a.B/C")) is None


def test_a_server_span_carries_method_color_tier_and_status(
    exporter: InMemorySpanExporter,
) -> None:
    tracer = sdk_tracer(exporter)
    call = CallInfo("server", "/echo.Echo/Say", color="loadtest", tier=3)
    span = tracer.start(call)
    tracer.end(span, call, CallOutcome(grpc.StatusCode.OK, 0.01))

    (finished,) = exporter.get_finished_spans()
    assert finished.name == "echo.Echo/Say"
    assert finished.kind is SpanKind.SERVER
    assert dict(finished.attributes or {}) == {
        "rpc.system.name": "grpc",
        "rpc.method": "echo.Echo/Say",
        "resilience.color": "loadtest",
        "resilience.tier": 3,
        "rpc.response.status_code": "OK",
    }
    assert finished.status.status_code is StatusCode.UNSET


def test_a_rejected_client_call_is_an_error_with_its_reason(
    exporter: InMemorySpanExporter,
) -> None:
    tracer = sdk_tracer(exporter)
    call = CallInfo("client", "/echo.Echo/Say", color="tenant-42")
    span = tracer.start(call)
    tracer.end(span, call, CallOutcome(grpc.StatusCode.UNAVAILABLE, 0.0, reject_reason="breaker"))

    (finished,) = exporter.get_finished_spans()
    attributes = finished.attributes or {}
    assert finished.kind is SpanKind.CLIENT
    assert attributes["resilience.color"] == "other"
    assert attributes["resilience.reject_reason"] == "breaker"
    assert attributes["error.type"] == "UNAVAILABLE"
    assert finished.status.status_code is StatusCode.ERROR


def test_a_crash_is_recorded_on_the_server_span(exporter: InMemorySpanExporter) -> None:
    tracer = sdk_tracer(exporter)
    call = CallInfo("server", "/echo.Echo/Say")
    span = tracer.start(call)
    outcome = CallOutcome(grpc.StatusCode.INTERNAL, 0.0, exception=ValueError("boom"))
    tracer.end(span, call, outcome)
    (finished,) = exporter.get_finished_spans()
    assert [event.name for event in finished.events] == ["exception"]


def test_spans_nest_under_the_given_parent_and_context_with_makes_them_current(
    exporter: InMemorySpanExporter,
) -> None:
    tracer = sdk_tracer(exporter)
    server_call = CallInfo("server", "/a.B/Handle")
    server_span = tracer.start(server_call)
    context = tracer.context_with(server_span)
    assert trace.get_current_span(context) is server_span
    client_call = CallInfo("client", "/c.D/Fetch")
    client_span = tracer.start(client_call, parent=context)
    tracer.end(client_span, client_call, CallOutcome(grpc.StatusCode.OK, 0.0))
    tracer.end(server_span, server_call, CallOutcome(grpc.StatusCode.OK, 0.0))

    client, server = exporter.get_finished_spans()
    assert client.parent is not None
    assert client.parent.span_id == server.context.span_id
    assert client.context.trace_id == server.context.trace_id
    assert tracer.context_with(None, context) is context
