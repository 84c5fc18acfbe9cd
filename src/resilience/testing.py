"""Helpers for testing code that uses resilience: a manual clock and in-process echo servers.

The echo servers serve one service, :data:`ECHO_SERVICE`, with a method of each RPC shape
(:data:`ECHO_METHODS`) on ``127.0.0.1`` and a free port, with bytes in and bytes out, so no
generated code is needed. :class:`EchoBehavior` holds the knobs a test or a demo turns while the
server runs: a fraction of calls that fail with a status code, added latency, a handler that
raises, and a hook that runs inside the handler (to look at the call's context or to call a
further service)::

    behavior = EchoBehavior(fail_rate=0.5)
    with EchoServer(behavior=behavior, interceptors=[ServerInterceptor()]) as server:
        channel = grpc.intercept_channel(grpc.insecure_channel(server.address), ClientInterceptor())
        echo_call(channel, "unary_unary", b"hi")
"""

from __future__ import annotations

import asyncio
import inspect
import random
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import grpc
import grpc.aio

from resilience._base.clock import ManualClock

__all__ = [
    "ECHO_METHODS",
    "ECHO_SERVICE",
    "AioEchoServer",
    "EchoBehavior",
    "EchoServer",
    "ManualClock",
    "aio_echo_call",
    "echo_call",
]

ECHO_SERVICE = "resilience.testing.Echo"
ECHO_METHODS: dict[str, str] = {
    "unary_unary": f"/{ECHO_SERVICE}/Unary",
    "unary_stream": f"/{ECHO_SERVICE}/ServerStream",
    "stream_unary": f"/{ECHO_SERVICE}/ClientStream",
    "stream_stream": f"/{ECHO_SERVICE}/BidiStream",
}
"""Shape name -> full method name of the echo service."""

OnCall = Callable[[bytes, Any], Any]


@dataclass
class EchoBehavior:
    """What the echo handlers do; change the fields at any time, they are read per call.

    ``fail_rate``: fraction (0..1) of calls that end with ``fail_code`` before echoing.
    ``latency``: seconds each call waits before answering (ends early if the call is cancelled).
    ``raise_error``: the handler raises ``RuntimeError`` (the call ends UNKNOWN).
    ``stream_items``: how many copies of the request a server stream sends.
    ``stream_interval``: seconds a response stream waits before each further response.
    ``on_call``: called as ``on_call(request, context)`` inside the handler before it answers
    (awaited on an aio server when it returns an awaitable); its return value, when bytes,
    replaces the response. ``calls``: requests answered so far (a bidi stream counts each
    message).
    """

    fail_rate: float = 0.0
    fail_code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE
    latency: float = 0.0
    raise_error: bool = False
    stream_items: int = 3
    stream_interval: float = 0.0
    on_call: OnCall | None = None
    seed: int = 0
    calls: int = 0
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def _begin(self) -> tuple[grpc.StatusCode | None, float]:
        """Count the call; return (the code to fail with or None, latency to add)."""
        with self._lock:
            self.calls += 1
            failing = self.fail_rate > 0 and self._rng.random() < self.fail_rate
        if self.raise_error:
            raise RuntimeError("echo: handler raised on purpose")
        return (self.fail_code if failing else None), self.latency


def _wait(context: grpc.ServicerContext, seconds: float) -> None:
    if seconds > 0:
        ended = threading.Event()
        context.add_callback(ended.set)
        ended.wait(seconds)


def _respond(behavior: EchoBehavior, request: bytes, context: grpc.ServicerContext) -> bytes:
    code, latency = behavior._begin()
    if code is not None:
        context.abort(code, "echo: failing on purpose")
    _wait(context, latency)
    if behavior.on_call is not None:
        replaced = behavior.on_call(request, context)
        if isinstance(replaced, bytes):
            return replaced
    return request


def _handlers(behavior: EchoBehavior) -> grpc.GenericRpcHandler:
    def unary(request: bytes, context: grpc.ServicerContext) -> bytes:
        return _respond(behavior, request, context)

    def server_stream(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        response = _respond(behavior, request, context)
        for index in range(behavior.stream_items):
            if index:
                _wait(context, behavior.stream_interval)
            yield response

    def client_stream(requests: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
        return _respond(behavior, b"".join(requests), context)

    def bidi_stream(requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
        for index, request in enumerate(requests):
            if index:
                _wait(context, behavior.stream_interval)
            yield _respond(behavior, request, context)

    return grpc.method_handlers_generic_handler(
        ECHO_SERVICE,
        {
            "Unary": grpc.unary_unary_rpc_method_handler(unary),
            "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream),
            "ClientStream": grpc.stream_unary_rpc_method_handler(client_stream),
            "BidiStream": grpc.stream_stream_rpc_method_handler(bidi_stream),
        },
    )


async def _aio_respond(
    behavior: EchoBehavior, request: bytes, context: grpc.aio.ServicerContext[Any, Any]
) -> bytes:
    code, latency = behavior._begin()
    if code is not None:
        await context.abort(code, "echo: failing on purpose")
    if latency > 0:
        await asyncio.sleep(latency)
    if behavior.on_call is not None:
        replaced = behavior.on_call(request, context)
        if inspect.isawaitable(replaced):
            replaced = await replaced
        if isinstance(replaced, bytes):
            return replaced
    return request


def _aio_handlers(behavior: EchoBehavior) -> grpc.GenericRpcHandler:
    Context = grpc.aio.ServicerContext[Any, Any]

    async def unary(request: bytes, context: Context) -> bytes:
        return await _aio_respond(behavior, request, context)

    async def server_stream(request: bytes, context: Context) -> AsyncIterator[bytes]:
        response = await _aio_respond(behavior, request, context)
        for index in range(behavior.stream_items):
            if index and behavior.stream_interval > 0:
                await asyncio.sleep(behavior.stream_interval)
            yield response

    async def client_stream(requests: AsyncIterator[bytes], context: Context) -> bytes:
        return await _aio_respond(behavior, b"".join([r async for r in requests]), context)

    async def bidi_stream(requests: AsyncIterator[bytes], context: Context) -> AsyncIterator[bytes]:
        index = 0
        async for request in requests:
            if index and behavior.stream_interval > 0:
                await asyncio.sleep(behavior.stream_interval)
            index += 1
            yield await _aio_respond(behavior, request, context)

    return grpc.method_handlers_generic_handler(
        ECHO_SERVICE,
        {
            "Unary": grpc.unary_unary_rpc_method_handler(unary),
            "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream),
            "ClientStream": grpc.stream_unary_rpc_method_handler(client_stream),
            "BidiStream": grpc.stream_stream_rpc_method_handler(bidi_stream),
        },
    )


class EchoServer:
    """A sync gRPC echo server on 127.0.0.1 and a free port; a context manager.

    ``interceptors``: server interceptors (list or tuple). ``protection``: a
    ``ServerInterceptor`` that protects the server at registration (its ``protect``) instead
    of intercepting. ``max_workers``: handler threads. ``options``: gRPC server options, e.g.
    ``[("grpc.max_metadata_size", 65536)]``. ``address`` is ``"127.0.0.1:<port>"`` once
    started.
    """

    def __init__(
        self,
        *,
        behavior: EchoBehavior | None = None,
        interceptors: Sequence[grpc.ServerInterceptor] = (),
        max_workers: int = 8,
        options: Sequence[tuple[str, Any]] = (),
        protection: Any = None,
    ) -> None:
        self.behavior = behavior if behavior is not None else EchoBehavior()
        self._server = grpc.server(
            ThreadPoolExecutor(max_workers=max_workers),
            interceptors=list(interceptors),
            options=list(options),
        )
        if protection is not None:
            self._server = protection.protect(self._server)
        self._server.add_generic_rpc_handlers((_handlers(self.behavior),))
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{self.port}"

    def start(self) -> EchoServer:
        """Start serving on :attr:`address`; returns the server itself."""
        self._server.start()
        return self

    def stop(self, grace: float | None = None) -> None:
        """Stop serving, letting calls in flight finish for ``grace`` seconds (None: none)."""
        self._server.stop(grace).wait()

    def __enter__(self) -> EchoServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class AioEchoServer:
    """A ``grpc.aio`` echo server on 127.0.0.1 and a free port; an async context manager.
    ``protection``: an ``AioServerInterceptor`` that protects it at registration."""

    def __init__(
        self,
        *,
        behavior: EchoBehavior | None = None,
        interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
        options: Sequence[tuple[str, Any]] = (),
        protection: Any = None,
    ) -> None:
        self.behavior = behavior if behavior is not None else EchoBehavior()
        self._server = grpc.aio.server(interceptors=interceptors, options=list(options))
        if protection is not None:
            self._server = protection.protect(self._server)
        self._server.add_generic_rpc_handlers((_aio_handlers(self.behavior),))
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{self.port}"

    async def start(self) -> AioEchoServer:
        """Start serving on :attr:`address`; returns the server itself."""
        await self._server.start()
        return self

    async def stop(self, grace: float | None = None) -> None:
        """Stop serving, letting calls in flight finish for ``grace`` seconds (None: none)."""
        await self._server.stop(grace)

    async def __aenter__(self) -> AioEchoServer:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


def echo_call(
    channel: grpc.Channel,
    shape: str,
    payload: bytes = b"ping",
    *,
    timeout: float | None = None,
    metadata: Sequence[tuple[str, str]] | None = None,
) -> list[bytes]:
    """Call the echo method of ``shape`` on a sync channel and return every response."""
    method = ECHO_METHODS[shape]
    md = tuple(metadata) if metadata else None
    request: Any = payload if shape.startswith("unary_") else iter((payload, payload))
    multicallable: Any = getattr(channel, shape)(method)
    result = multicallable(request, timeout=timeout, metadata=md)
    return list(result) if shape.endswith("_stream") else [result]


async def aio_echo_call(
    channel: grpc.aio.Channel,
    shape: str,
    payload: bytes = b"ping",
    *,
    timeout: float | None = None,
    metadata: Sequence[tuple[str, str]] | None = None,
) -> list[bytes]:
    """Call the echo method of ``shape`` on an aio channel and return every response."""
    method = ECHO_METHODS[shape]
    md = grpc.aio.Metadata(*metadata) if metadata else None
    request: Any = payload if shape.startswith("unary_") else iter((payload, payload))
    multicallable: Any = getattr(channel, shape)(method)
    call = multicallable(request, timeout=timeout, metadata=md)
    if shape.endswith("_stream"):
        return [response async for response in call]
    return [await call]
