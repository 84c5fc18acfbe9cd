"""Run in a subprocess by test_late_backends.py (it installs the global meter provider, which
OpenTelemetry allows once per process).

As a user who sets up metrics and Sentry after building the protected server and channel
(``sync`` or ``aio``, argv[2]; default observers): a call before the set-up, then the set-up,
then calls until the backend watch wakes the observers (it looks every second), then ``CALLS``
calls and one crash. Prints the durations the SDK recorded for the ``CALLS`` calls, the calls
still in flight, and the crash reports Sentry received: ``mode recorded in_flight reports``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Callable
from typing import Any

import grpc
import sentry_sdk
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from resilience.interceptors import (
    AioClientInterceptor,
    AioServerInterceptor,
    ClientInterceptor,
    ServerInterceptor,
)
from resilience.testing import AioEchoServer, EchoServer, aio_echo_call, echo_call

sys.path.insert(0, sys.argv[1])  # the tests directory, for the capturing Sentry transport
from observability.conftest import CapturingTransport

CALLS = 5
WAKE_WITHIN = 5.0  # seconds; the watch looks every second

reader = InMemoryMetricReader()
transport = CapturingTransport()


def set_up_backends() -> None:
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    sentry_sdk.init(
        dsn="http://public@127.0.0.1:9/1", transport=transport, default_integrations=False
    )


def collected(name_is: Callable[[str], bool], value_of: Callable[[Any], float]) -> float:
    """The sum of ``value_of(point)`` over the points of every metric whose name passes
    ``name_is``, read by a collection."""
    data = reader.get_metrics_data()
    metrics_found = [
        metric
        for resource in (data.resource_metrics if data else ())
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if name_is(metric.name)
    ]
    return sum(value_of(point) for metric in metrics_found for point in metric.data.data_points)


def server_durations() -> int:
    """Server call durations recorded so far (every method)."""
    return int(collected(lambda name: name == "rpc.server.call.duration", lambda p: p.count))


def in_flight() -> float:
    """Calls in flight, both sides."""
    return collected(lambda name: name.endswith(".active_calls"), lambda p: p.value)


def settled() -> bool:
    """Whether no call is in flight: every call so far has ended on both sides, its duration
    recorded (a server call ends just after its client got the last response)."""
    return in_flight() == 0


def waited_out(give_up: float) -> bool:
    if time.monotonic() > give_up:
        raise SystemExit(f"no call recorded within {WAKE_WITHIN} s of the set-up")
    return True


def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    """Poll ``condition`` until it holds or ``seconds`` pass (the counts printed then tell)."""
    give_up = time.monotonic() + seconds
    while not condition() and time.monotonic() < give_up:
        time.sleep(0.01)


async def until_async(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    """:func:`until` on the event loop, which the aio server shares."""
    give_up = time.monotonic() + seconds
    while not condition() and time.monotonic() < give_up:
        await asyncio.sleep(0.01)


def sync_mode() -> str:
    server = EchoServer(protection=ServerInterceptor())
    channel = ClientInterceptor().protect(grpc.insecure_channel(server.address))
    with server:
        echo_call(channel, "unary_unary", timeout=5)
        set_up_backends()
        give_up = time.monotonic() + WAKE_WITHIN
        while server_durations() == 0 and waited_out(give_up):
            echo_call(channel, "unary_unary", timeout=5)
            time.sleep(0.05)
        until(settled)
        before = server_durations()
        for _ in range(CALLS):
            echo_call(channel, "unary_stream", timeout=5)
        until(settled)
        recorded = server_durations() - before
        server.behavior.raise_error = True
        with contextlib.suppress(grpc.RpcError):
            echo_call(channel, "unary_unary", timeout=5)
    channel.close()
    return f"sync {recorded} {in_flight():g} {len(transport.events)}"


async def aio_mode() -> str:
    server = AioEchoServer(protection=AioServerInterceptor())
    channel = AioClientInterceptor().protect(grpc.aio.insecure_channel(server.address))
    async with server:
        await aio_echo_call(channel, "unary_unary", timeout=5)
        set_up_backends()
        give_up = time.monotonic() + WAKE_WITHIN
        while server_durations() == 0 and waited_out(give_up):
            await aio_echo_call(channel, "unary_unary", timeout=5)
            await asyncio.sleep(0.05)
        await until_async(settled)
        before = server_durations()
        for _ in range(CALLS):
            await aio_echo_call(channel, "unary_stream", timeout=5)
        await until_async(settled)
        recorded = server_durations() - before
        server.behavior.raise_error = True
        with contextlib.suppress(grpc.RpcError):
            await aio_echo_call(channel, "unary_unary", timeout=5)
    await channel.close()
    return f"aio {recorded} {in_flight():g} {len(transport.events)}"


def main() -> None:
    print(sync_mode() if sys.argv[2] == "sync" else asyncio.run(aio_mode()), flush=True)
    sentry_sdk.get_client().close(timeout=2.0)


if __name__ == "__main__":
    main()
