"""Run in a subprocess by test_default_wiring.py (it installs the global meter provider, which
OpenTelemetry allows once per process).

Serves metrics with ``serve_metrics(0)``, runs a few calls through interceptors built with no
arguments (sync and aio), and prints the scrape as text. With the argument ``late`` the
interceptors are built before ``serve_metrics`` is called (their observers then wait for a
recording provider, and ``serve_metrics`` wakes them at once).
"""

from __future__ import annotations

import asyncio
import sys
import urllib.request

import grpc

from resilience.interceptors import (
    AioClientInterceptor,
    AioServerInterceptor,
    ClientInterceptor,
    ServerInterceptor,
)
from resilience.observability import serve_metrics
from resilience.testing import AioEchoServer, EchoServer, aio_echo_call, echo_call


async def aio_calls(server_side: AioServerInterceptor, client_side: AioClientInterceptor) -> None:
    async with AioEchoServer(interceptors=[server_side]) as server:
        channel = grpc.aio.insecure_channel(server.address, interceptors=client_side)
        await aio_echo_call(channel, "unary_stream", timeout=5)
        await channel.close()


def main(late: bool) -> None:
    """``late``: the interceptors are built before ``serve_metrics`` is called."""
    if late:
        interceptors = (ClientInterceptor(), ServerInterceptor())
        aio_interceptors = (AioClientInterceptor(), AioServerInterceptor())
    metrics = serve_metrics(0)
    if not late:
        interceptors = (ClientInterceptor(), ServerInterceptor())
        aio_interceptors = (AioClientInterceptor(), AioServerInterceptor())
    client, server_side = interceptors
    with EchoServer(interceptors=[server_side]) as server:
        channel = grpc.intercept_channel(grpc.insecure_channel(server.address), client)
        echo_call(channel, "unary_unary", timeout=5)
        channel.close()
    asyncio.run(aio_calls(aio_interceptors[1], aio_interceptors[0]))
    with urllib.request.urlopen(metrics.url, timeout=5) as response:
        sys.stdout.write(response.read().decode())
    metrics.stop()


if __name__ == "__main__":
    main(late=sys.argv[1:] == ["late"])
