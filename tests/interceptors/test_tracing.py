"""With a tracer provider installed, each side records one span per call: the server span is a
child of the client span, and the handler runs with the server span current."""

from __future__ import annotations

from typing import Any

import grpc
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from resilience.observability.tracing import CallTracer
from resilience.testing import EchoBehavior

from .harness import Harness


def traced(interceptor: Any, provider: TracerProvider) -> None:
    interceptor._pipeline.tracer = CallTracer(tracer_provider=provider)
    interceptor._pipeline._tracer_checked = -1.0  # look again now


def test_client_and_server_spans_form_one_trace(harness: Harness) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    current: list[int] = []
    behavior = EchoBehavior(
        on_call=lambda r, c: current.append(trace.get_current_span().get_span_context().span_id)
    )
    server = harness.server(behavior=behavior)
    client = harness.client(server.address)
    traced(server.interceptor, provider)
    traced(client.interceptor, provider)

    client.call()

    spans = {span.kind: span for span in exporter.get_finished_spans()}
    client_span, server_span = spans[SpanKind.CLIENT], spans[SpanKind.SERVER]
    assert client_span.name == server_span.name == "resilience.testing.Echo/Unary"
    assert server_span.context.trace_id == client_span.context.trace_id
    assert server_span.parent is not None
    assert server_span.parent.span_id == client_span.context.span_id
    assert current == [server_span.context.span_id]
    assert server_span.attributes is not None
    assert server_span.attributes["rpc.response.status_code"] == grpc.StatusCode.OK.name
