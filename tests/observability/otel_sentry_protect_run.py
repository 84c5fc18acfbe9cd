"""Run in a subprocess by test_otel_and_sentry_with_protect.py: OpenTelemetry's gRPC
instrumentation (``GrpcInstrumentor*``, or the aio ones with ``aio``) and sentry-sdk's
``GRPCIntegration`` both patch grpc for the whole process, so they must not run inside the
test session.

A caller -> front -> back chain of echo servers, every server and channel built with grpc's
constructors (so both neighbours are installed) and then ``protect()``-ed. The caller, in a
span and under ``traffic_color("loadtest")`` and ``tier(1)``, calls the front in each of the
four shapes; the front's handler calls the back (unary); then one call crashes the back's
handler. Prints JSON: ``root`` (the caller's trace id), ``answers`` per shape, ``seen`` (what
each handler saw: hop, trace id, color, tier, method) and ``events`` (Sentry events: tags and
mechanism).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from typing import Any

import grpc
import grpc.aio
import sentry_sdk
from opentelemetry import trace
from opentelemetry.instrumentation import grpc as instrumentation
from opentelemetry.sdk.trace import TracerProvider
from sentry_sdk.envelope import Envelope
from sentry_sdk.integrations.grpc import GRPCIntegration
from sentry_sdk.transport import Transport

from resilience import ClientInterceptor, Policy, ServerInterceptor
from resilience.context import current_color, current_method, current_tier, tier, traffic_color
from resilience.interceptors import AioClientInterceptor, AioServerInterceptor
from resilience.observability import SentryReporter
from resilience.testing import (
    ECHO_METHODS,
    AioEchoServer,
    EchoBehavior,
    EchoServer,
    aio_echo_call,
    echo_call,
)

POLICY = Policy.from_dict(
    {"methods": {"*": {"breaker": {"k": 2.0}}}, "trusted_peers": ["127.0.0.1"]}
)
OTEL: Any = instrumentation  # untyped: GrpcInstrumentorServer, ...
seen: list[list[Any]] = []


class Keep(Transport):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        event = envelope.get_event()
        if event is not None:
            values = (event.get("exception") or {}).get("values") or [{}]
            mechanism = (values[-1].get("mechanism") or {}).get("type")
            self.events.append({"tags": event.get("tags", {}), "mechanism": mechanism})


def trace_id() -> str:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else ""


def look(hop: str) -> None:
    seen.append([hop, trace_id(), current_color(), current_tier(), current_method()])


def back_call(request: bytes, context: Any) -> None:
    look("back")
    if request == b"crash":
        raise RuntimeError("handler bug")


def run_sync() -> dict[str, Any]:
    back = EchoServer(
        behavior=EchoBehavior(on_call=back_call),
        protection=ServerInterceptor(POLICY, observers=[SentryReporter()]),
    ).start()
    to_back = ClientInterceptor(POLICY).protect(grpc.insecure_channel(back.address))

    def front_call(request: bytes, context: Any) -> bytes:
        look("front")
        try:
            return echo_call(to_back, "unary_unary", request, timeout=10)[0]
        except grpc.RpcError as error:
            context.abort(error.code(), error.details())
            raise

    front = EchoServer(
        behavior=EchoBehavior(on_call=front_call),
        protection=ServerInterceptor(POLICY, observers=[SentryReporter()]),
    ).start()
    channel = ClientInterceptor(POLICY).protect(grpc.insecure_channel(front.address))
    answers: dict[str, Any] = {}
    with trace.get_tracer("caller").start_as_current_span("root"):
        root = trace_id()
        with traffic_color("loadtest"), tier(1):
            for shape in ECHO_METHODS:
                answers[shape] = [r.decode() for r in echo_call(channel, shape, b"hi", timeout=10)]
            with contextlib.suppress(grpc.RpcError):
                echo_call(channel, "unary_unary", b"crash", timeout=10)
    front.stop()
    back.stop()
    return {"root": root, "answers": answers}


async def run_aio() -> dict[str, Any]:
    back = await AioEchoServer(
        behavior=EchoBehavior(on_call=back_call),
        protection=AioServerInterceptor(POLICY, observers=[SentryReporter()]),
    ).start()
    to_back = AioClientInterceptor(POLICY).protect(grpc.aio.insecure_channel(back.address))

    async def front_call(request: bytes, context: Any) -> bytes:
        look("front")
        try:
            return (await aio_echo_call(to_back, "unary_unary", request, timeout=10))[0]
        except grpc.aio.AioRpcError as error:
            await context.abort(error.code(), error.details())
            raise

    front = await AioEchoServer(
        behavior=EchoBehavior(on_call=front_call),
        protection=AioServerInterceptor(POLICY, observers=[SentryReporter()]),
    ).start()
    channel = AioClientInterceptor(POLICY).protect(grpc.aio.insecure_channel(front.address))
    answers: dict[str, Any] = {}
    with trace.get_tracer("caller").start_as_current_span("root"):
        root = trace_id()
        with traffic_color("loadtest"), tier(1):
            for shape in ECHO_METHODS:
                got = await aio_echo_call(channel, shape, b"hi", timeout=10)
                answers[shape] = [r.decode() for r in got]
            with contextlib.suppress(grpc.aio.AioRpcError):
                await aio_echo_call(channel, "unary_unary", b"crash", timeout=10)
    await channel.close()
    await to_back.close()
    await front.stop()
    await back.stop()
    return {"root": root, "answers": answers}


def main() -> None:
    aio = sys.argv[1:] == ["aio"]
    trace.set_tracer_provider(TracerProvider())
    transport = Keep()
    sentry_sdk.init(
        dsn="http://public@127.0.0.1:9/1", transport=transport, integrations=[GRPCIntegration()]
    )
    if aio:
        OTEL.GrpcAioInstrumentorServer().instrument()
        OTEL.GrpcAioInstrumentorClient().instrument()
        result = asyncio.run(run_aio())
    else:
        OTEL.GrpcInstrumentorServer().instrument()
        OTEL.GrpcInstrumentorClient().instrument()
        result = run_sync()
    sentry_sdk.flush(timeout=5)
    print(json.dumps({**result, "seen": seen, "events": transport.events}))


if __name__ == "__main__":
    main()
