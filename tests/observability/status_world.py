"""A real gRPC shop on 127.0.0.1 (sync or aio) under bounded load, for the status page tests.

The server has a tiered rate limit and an overload guard on ``/demo.Shop/*`` and a server-side
fault rule on ``Flaky`` switched on for a minute; the client has a dynamic timeout and the
default breaker; each side has a bulkhead of 8 calls (8 more may wait) for the shop. Both use
the default observers, so the status page sees them.
"""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager, suppress
from typing import Any

import grpc
import grpc.aio

from resilience import Policy
from resilience.interceptors import ServerInterceptor
from resilience.interceptors.aio_client import AioClientInterceptor
from resilience.interceptors.aio_server import AioServerInterceptor
from resilience.interceptors.client import ClientInterceptor

POLICY = Policy.from_dict(
    {
        "methods": {
            "/demo.Shop/*": {
                "rate_limit": {"limit": 40, "tiered": True},
                "overload": True,
                "timeout": True,
                "bulkhead": {"max_concurrent": 8, "max_queue": 8},
            }
        },
        "faults": [
            {
                "method": "/demo.Shop/Flaky",
                "percentage": 30,
                "abort": "UNAVAILABLE",
                "name": "flaky-shop",
            }
        ],
    }
)
MAX_CALLS = 4000
"""The most calls one load run makes (it stops earlier when told to)."""
PAUSE = 0.01
"""Seconds between two rounds of calls (bounds the rate to well under 200 calls/s)."""


def forget_dead_sources() -> None:
    """Collect the interceptors earlier tests left as garbage: gauge sources are weakly held,
    and until collected they still publish (a fault rule, a bulkhead) to the page."""
    gc.collect()


def _echo(request: bytes, context: Any) -> bytes:
    return request


async def _aio_echo(request: bytes, context: Any) -> bytes:
    return request


def call(channel: Any, method: str) -> Any:
    """Call ``method`` of the shop with a one-byte request (awaitable on an aio channel)."""
    return channel.unary_unary(f"/demo.Shop/{method}")(b"x", timeout=5.0)


def _handlers(echo: Any) -> grpc.GenericRpcHandler:
    return grpc.method_handlers_generic_handler(
        "demo.Shop",
        {
            "Get": grpc.unary_unary_rpc_method_handler(echo),
            "Flaky": grpc.unary_unary_rpc_method_handler(echo),
        },
    )


@contextmanager
def sync_shop() -> Iterator[threading.Event]:
    """Serve and load the shop with the sync API until the context ends (or MAX_CALLS)."""
    forget_dead_sources()
    interceptor = ServerInterceptor(POLICY)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), interceptors=[interceptor])
    server.add_generic_rpc_handlers([_handlers(_echo)])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    assert interceptor.fault_injector is not None
    interceptor.fault_injector.enable(for_seconds=60)
    channel = grpc.intercept_channel(
        grpc.insecure_channel(f"127.0.0.1:{port}"), ClientInterceptor(POLICY)
    )
    stop = threading.Event()

    def load() -> None:
        calls = 0
        while not stop.is_set() and calls < MAX_CALLS:
            for method in ("Get", "Flaky"):
                calls += 1
                with suppress(grpc.RpcError):
                    call(channel, method)
            stop.wait(PAUSE)

    thread = threading.Thread(target=load, name="status-load", daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(timeout=10.0)
        channel.close()
        server.stop(None)
        interceptor.close()


@contextmanager
def aio_shop() -> Iterator[threading.Event]:
    """The same shop on grpc.aio, its loop on a thread of its own."""
    forget_dead_sources()
    stop = threading.Event()
    ready = threading.Event()
    failure: list[BaseException] = []

    async def main() -> None:
        interceptor = AioServerInterceptor(POLICY)
        server = grpc.aio.server(interceptors=[interceptor])
        server.add_generic_rpc_handlers([_handlers(_aio_echo)])
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        channel = grpc.aio.insecure_channel(
            f"127.0.0.1:{port}", interceptors=AioClientInterceptor(POLICY)
        )
        calls = 0
        try:
            assert interceptor.fault_injector is not None
            interceptor.fault_injector.enable(for_seconds=60)
            ready.set()
            while not stop.is_set() and calls < MAX_CALLS:
                for method in ("Get", "Flaky"):
                    calls += 1
                    with suppress(grpc.RpcError):
                        await call(channel, method)
                await asyncio.sleep(PAUSE)
        finally:
            await channel.close()
            await server.stop(None)
            interceptor.close()

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced by the test through `failure`
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=run, name="status-aio-load", daemon=True)
    thread.start()
    ready.wait(timeout=20.0)
    try:
        if failure:
            raise failure[0]
        yield stop
    finally:
        stop.set()
        thread.join(timeout=20.0)
