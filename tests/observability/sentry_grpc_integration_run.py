"""Run in a subprocess by test_sentry_with_grpc_integration.py (sentry-sdk's GRPCIntegration
patches grpc.server for the whole process, so it must not run inside the test session).

Starts a sync and an aio echo server with the server interceptor and the SentryReporter, under
sentry-sdk with its default integrations plus GRPCIntegration (or, with ``--no-dedupe``, only
the gRPC and logging integrations), crashes one call on each, and
prints the events Sentry would have sent as JSON: {"sync": [...], "aio": [...]}.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from typing import Any

import grpc
import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.integrations.grpc import GRPCIntegration
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.transport import Transport

from resilience.interceptors import AioServerInterceptor, ServerInterceptor
from resilience.observability import SentryReporter
from resilience.testing import AioEchoServer, EchoBehavior, EchoServer, aio_echo_call, echo_call


class Keep(Transport):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        event = envelope.get_event()
        if event is not None:
            self.events.append({"tags": event.get("tags", {}), "mechanism": mechanism(event)})


def mechanism(event: Any) -> Any:
    values = (event.get("exception") or {}).get("values") or [{}]
    return (values[-1].get("mechanism") or {}).get("type")


def crash(request: bytes, context: Any) -> None:
    raise RuntimeError("handler bug")


async def aio_crash() -> None:
    behavior = EchoBehavior(on_call=crash)
    interceptor = AioServerInterceptor(observers=[SentryReporter()])
    async with AioEchoServer(behavior=behavior, interceptors=[interceptor]) as server:
        channel = grpc.aio.insecure_channel(server.address)
        with contextlib.suppress(grpc.aio.AioRpcError):
            await aio_echo_call(channel, "unary_unary", timeout=5)
        await channel.close()


def main() -> None:
    transport = Keep()
    # With --no-dedupe: only the gRPC and logging integrations, DedupeIntegration off.
    defaults = "--no-dedupe" not in sys.argv
    sentry_sdk.init(
        dsn="http://public@127.0.0.1:9/1",
        transport=transport,
        default_integrations=defaults,
        integrations=[GRPCIntegration(), LoggingIntegration()],
    )
    found: dict[str, list[dict[str, Any]]] = {}
    interceptor = ServerInterceptor(observers=[SentryReporter()])
    behavior = EchoBehavior(on_call=crash)
    with (
        EchoServer(behavior=behavior, interceptors=[interceptor]) as server,
        grpc.insecure_channel(server.address) as channel,
        contextlib.suppress(grpc.RpcError),
    ):
        echo_call(channel, "unary_unary", timeout=5)
    sentry_sdk.flush(timeout=2)
    found["sync"], transport.events = transport.events, []
    asyncio.run(aio_crash())
    sentry_sdk.flush(timeout=2)
    found["aio"] = transport.events
    json.dump(found, sys.stdout)


if __name__ == "__main__":
    main()
