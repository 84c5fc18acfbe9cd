"""Client and server spans: recorded with the conventions' attributes when an SDK is set,
nothing at all otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

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


def sdk_provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def sdk_tracer(exporter: InMemorySpanExporter) -> CallTracer:
    return CallTracer(tracer_provider=sdk_provider(exporter))


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


class CountingSpan:
    """A real SDK span whose attribute and status writes are counted (each takes its lock)."""

    def __init__(self, span: Any) -> None:
        self.span = span
        self.writes: list[str] = []

    def set_attribute(self, key: str, value: Any) -> None:
        self.writes.append("set_attribute")
        self.span.set_attribute(key, value)

    def set_attributes(self, attributes: Any) -> None:
        self.writes.append("set_attributes")
        self.span.set_attributes(attributes)

    def set_status(self, status: Any, description: str | None = None) -> None:
        self.writes.append("set_status")
        self.span.set_status(status, description)

    def record_exception(self, exception: BaseException) -> None:
        self.writes.append("record_exception")
        self.span.record_exception(exception)

    def end(self) -> None:
        self.span.end()


@pytest.mark.parametrize(
    ("side", "code", "reason", "writes"),
    [
        ("client", grpc.StatusCode.OK, None, ["set_attribute"]),
        ("server", grpc.StatusCode.NOT_FOUND, None, ["set_attribute"]),
        ("server", grpc.StatusCode.OK, "hook", ["set_attributes"]),
        ("client", grpc.StatusCode.UNAVAILABLE, "breaker", ["set_attributes", "set_status"]),
        ("server", grpc.StatusCode.INTERNAL, None, ["set_attributes", "set_status"]),
    ],
)
def test_a_span_ends_with_one_attribute_write(
    exporter: InMemorySpanExporter,
    side: Any,
    code: grpc.StatusCode,
    reason: str | None,
    writes: list[str],
) -> None:
    tracer = sdk_tracer(exporter)
    call = CallInfo(side, "/echo.Echo/Say")
    span = CountingSpan(tracer.start(call))
    tracer.end(span, call, CallOutcome(code, 0.0, reject_reason=reason))  # type: ignore[arg-type]

    assert span.writes == writes
    (finished,) = exporter.get_finished_spans()
    attributes = dict(finished.attributes or {})
    assert attributes["rpc.response.status_code"] == code.name
    assert attributes.get("resilience.reject_reason") == reason
    error = "set_status" in writes
    assert attributes.get("error.type") == (code.name if error else None)
    if error:
        assert finished.status.status_code is StatusCode.ERROR
        assert finished.status.description == code.name
    else:
        assert finished.status.status_code is StatusCode.UNSET


def test_spans_of_one_kind_of_call_start_alike_and_apart(
    exporter: InMemorySpanExporter,
) -> None:
    """The start attributes are kept per method, color and tier: a second call of the same
    kind starts with the same ones (nothing the first span's end added), another color or
    tier with its own."""
    tracer = CallTracer(tracer_provider=sdk_provider(exporter), colors=("loadtest",))
    calls = [
        CallInfo("server", "/echo.Echo/Say", "loadtest", 3),
        CallInfo("server", "/echo.Echo/Say", "loadtest", 3),
        CallInfo("server", "/echo.Echo/Say", None, 3),
        CallInfo("server", "/echo.Echo/Say", "loadtest", None),
    ]
    started = []
    for call in calls:
        span = tracer.start(call)
        assert span is not None
        started.append(dict(span.attributes or {}))  # type: ignore[attr-defined]
        tracer.end(span, call, CallOutcome(grpc.StatusCode.INTERNAL, 0.0))
    base = {"rpc.system.name": "grpc", "rpc.method": "echo.Echo/Say"}
    assert started == [
        {**base, "resilience.color": "loadtest", "resilience.tier": 3},
        {**base, "resilience.color": "loadtest", "resilience.tier": 3},
        {**base, "resilience.color": "none", "resilience.tier": 3},
        {**base, "resilience.color": "loadtest"},
    ]
    assert len(exporter.get_finished_spans()) == 4


def test_a_pinned_tracer_starts_spans_without_looking_the_provider_up(
    exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a pipeline keeps between its checks of the provider: starting a span then reads
    no global state."""
    provider = sdk_provider(exporter)
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    pinned = CallTracer().pinned()
    assert pinned is not None

    def no_lookup() -> trace.TracerProvider:
        raise AssertionError("looked the provider up")

    monkeypatch.setattr(trace, "get_tracer_provider", no_lookup)
    call = CallInfo("client", "/echo.Echo/Say")
    pinned.end(pinned.start(call), call, CallOutcome(grpc.StatusCode.OK, 0.0))
    (finished,) = exporter.get_finished_spans()
    assert finished.name == "echo.Echo/Say"


def test_no_pinned_tracer_while_tracing_is_off() -> None:
    assert CallTracer(tracer_provider=NoOpTracerProvider()).pinned() is None
