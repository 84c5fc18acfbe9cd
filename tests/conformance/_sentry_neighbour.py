"""Run in a subprocess by test_neighbours.py (``python -m conformance._sentry_neighbour`` from
the tests folder): sentry-sdk's GRPCIntegration patches
``grpc.server``, ``grpc.insecure_channel`` and their aio twins for the whole process, so it
must not run inside the test session.

Sentry is initialised with GRPCIntegration only, a DSN pointing at 127.0.0.1 port 9 (nothing
listens there, and nothing is sent: the capturing transport below keeps what sentry-sdk would
send) and every trace sampled. For sync and aio, with sentry's interceptors outside ours (as
its patches place them on aio channels and on servers) and inside ours (as its patch places
them on sync channels; the other places use the unpatched functions it wraps), one call goes
caller -> A -> B inside an OpenTelemetry root span and a Sentry transaction. Prints
{"<flavour>|<order>": {"trace_id": ..., "outcome": ...}} as JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import grpc
import grpc.aio
import sentry_sdk
from opentelemetry import baggage
from opentelemetry.context import attach, detach
from opentelemetry.sdk.trace import TracerProvider
from sentry_sdk.envelope import Envelope
from sentry_sdk.integrations.grpc import GRPCIntegration
from sentry_sdk.integrations.grpc.aio.client import (
    SentryUnaryStreamClientInterceptor,
    SentryUnaryUnaryClientInterceptor,
)
from sentry_sdk.integrations.grpc.aio.server import ServerInterceptor as SentryAioServer
from sentry_sdk.integrations.grpc.client import ClientInterceptor as SentryClient
from sentry_sdk.integrations.grpc.server import ServerInterceptor as SentryServer
from sentry_sdk.transport import Transport

from conformance._chain import EVERYTHING_ON, Scenario, Wiring, run
from resilience import context as rcontext

ORDERS = ("theirs outside ours", "theirs inside ours")


class Keep(Transport):
    """Keeps the envelopes sentry-sdk would send (nothing leaves the process)."""

    def __init__(self) -> None:
        super().__init__()
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)


def unpatched(function: Any) -> Any:
    """The grpc function sentry-sdk's patch wraps (functools.wraps keeps it)."""
    return getattr(function, "__wrapped__", function)


class SentryWiring(Wiring):
    def __init__(self, outside: bool) -> None:
        self.outside = outside

    def server(self, interceptors: list[Any], aio: bool) -> Any:
        if self.outside:  # the patched functions put sentry's interceptor first
            return super().server(interceptors, aio)
        if aio:
            return unpatched(grpc.aio.server)(interceptors=[*interceptors, SentryAioServer()])
        from concurrent.futures import ThreadPoolExecutor

        return unpatched(grpc.server)(
            ThreadPoolExecutor(4), interceptors=[*interceptors, SentryServer()]
        )

    def channel(self, address: str, ours: Any | None, aio: bool) -> Any:
        if aio:
            mine = [] if ours is None else list(ours)
            if self.outside:  # the patched function puts sentry's interceptors first
                return grpc.aio.insecure_channel(address, interceptors=mine)
            theirs = [SentryUnaryUnaryClientInterceptor(), SentryUnaryStreamClientInterceptor()]
            return unpatched(grpc.aio.insecure_channel)(address, interceptors=[*mine, *theirs])
        if not self.outside:  # the patched function puts sentry's interceptor innermost
            channel = grpc.insecure_channel(address)
            return channel if ours is None else grpc.intercept_channel(channel, ours)
        raw = unpatched(grpc.insecure_channel)(address)
        inner = raw if ours is None else grpc.intercept_channel(raw, ours)
        return grpc.intercept_channel(inner, SentryClient())


def one(flavour: str, order: str, provider: TracerProvider) -> dict[str, Any]:
    scenario = Scenario(
        policy=EVERYTHING_ON, first_timeout=10.0, wiring=SentryWiring(order == ORDERS[0])
    )
    ctx = baggage.set_baggage("region", "eu", baggage.set_baggage("tenant", "acme"))
    token = attach(ctx)
    try:
        with (
            provider.get_tracer("caller").start_as_current_span("root") as root,
            sentry_sdk.start_transaction(name="caller", op="test"),
            rcontext.traffic_color("loadtest"),
            rcontext.tier(1),
        ):
            outcome = run(scenario, aio=flavour == "aio")
    finally:
        detach(token)
    return {
        "trace_id": root.get_span_context().trace_id,
        "code": outcome.code.name,
        "details": outcome.details,
        "response": None if outcome.response is None else outcome.response.decode(),
        "seen": [asdict(seen) for seen in outcome.seen],
    }


def main() -> None:
    keep = Keep()
    sentry_sdk.init(
        dsn="http://public@127.0.0.1:9/1",
        transport=keep,
        traces_sample_rate=1.0,
        default_integrations=False,
        integrations=[GRPCIntegration()],
    )
    provider = TracerProvider()
    results = {
        f"{flavour}|{order}": one(flavour, order, provider)
        for flavour in ("sync", "aio")
        for order in ORDERS
    }
    sentry_sdk.flush(timeout=2)
    print(json.dumps(results, default=str))


if __name__ == "__main__":
    main()
