"""Run in a subprocess by test_default_wiring.py (it installs the global meter provider, which
OpenTelemetry allows once per process).

Serves metrics with ``serve_metrics(0)``, runs a few calls through interceptors built with no
arguments (sync and aio), and prints the scrape as text.
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


async def aio_calls() -> None:
    async with AioEchoServer(interceptors=[AioServerInterceptor()]) as server:
        channel = grpc.aio.insecure_channel(server.address, interceptors=AioClientInterceptor())
        await aio_echo_call(channel, "unary_stream", timeout=5)
        await channel.close()


def main() -> None:
    metrics = serve_metrics(0)
    client = ClientInterceptor()
    with EchoServer(interceptors=[ServerInterceptor()]) as server:
        channel = grpc.intercept_channel(grpc.insecure_channel(server.address), client)
        echo_call(channel, "unary_unary", timeout=5)
        channel.close()
    asyncio.run(aio_calls())
    with urllib.request.urlopen(metrics.url, timeout=5) as response:
        sys.stdout.write(response.read().decode())
    metrics.stop()


if __name__ == "__main__":
    main()
