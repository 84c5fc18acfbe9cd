"""The interceptors share a channel or server with other interceptors (given as a list or a
tuple), such as sentry-sdk's gRPC integration, without sending a header twice."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from sentry_sdk.integrations.grpc.client import ClientInterceptor as SentryClient
from sentry_sdk.integrations.grpc.server import ServerInterceptor as SentryServer

from resilience.context import current_color, traffic_color
from resilience.interceptors import ClientInterceptor, ServerInterceptor
from resilience.testing import EchoBehavior, EchoServer, echo_call


class TraceHeaderWriter(grpc.UnaryUnaryClientInterceptor):
    """Stands in for an instrumentation that writes its own traceparent and baggage."""

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        metadata = [
            *(details.metadata or ()),
            ("traceparent", "00-" + "a" * 32 + "-" + "b" * 16 + "-01"),
            ("baggage", "sentry-trace_id=abc,sentry-sample_rate=1"),
        ]
        return continuation(details._replace(metadata=metadata), request)


@pytest.mark.parametrize("container", [list, tuple])
def test_headers_written_by_another_interceptor_are_not_duplicated(container: Any) -> None:
    seen: list[Any] = []

    def look(request: bytes, context: Any) -> None:
        seen.append((context.invocation_metadata(), current_color()))

    server_chain = container([SentryServer(), ServerInterceptor()])
    with EchoServer(behavior=EchoBehavior(on_call=look), interceptors=server_chain) as server:
        channel = grpc.intercept_channel(
            grpc.insecure_channel(server.address), TraceHeaderWriter(), ClientInterceptor()
        )
        with channel, traffic_color("blue"):
            assert echo_call(channel, "unary_unary") == [b"ping"]

    [(metadata, color)] = seen
    keys = [key for key, _ in metadata]
    assert keys.count("traceparent") == 1
    assert keys.count("baggage") == 1
    baggage = dict(metadata)["baggage"]
    assert baggage == "sentry-trace_id=abc,sentry-sample_rate=1,resilience.color=blue"
    assert color == "blue"


def test_sentry_client_interceptor_and_ours_on_one_channel() -> None:
    with EchoServer(interceptors=(ServerInterceptor(),)) as server:
        channel = grpc.intercept_channel(
            grpc.insecure_channel(server.address), SentryClient(), ClientInterceptor()
        )
        with channel:
            assert echo_call(channel, "unary_unary") == [b"ping"]
            assert echo_call(channel, "unary_stream") == [b"ping"] * 3
