"""A generic bytes echo server (sync or grpc.aio) on 127.0.0.1 port 0 that remembers each call.

Methods: ``/echo.Echo/Say`` (unary echo), ``/echo.Echo/Collect`` (request stream joined by
``|``), ``/echo.Echo/Repeat`` (the request twice, streamed), ``/echo.Echo/Chat`` (each request
echoed), ``/echo.Echo/Fail`` (aborts with the status named in the request and
``x-resilience-reject: shed``). A ``pre`` hook stands in for the server interceptor's single
plug-in point: it sees (method, metadata, request, context) before the handler runs and may
return a replacement request stream (the server interceptors' hook contract).
"""

from __future__ import annotations

import asyncio
import threading
import urllib.parse
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc

from resilience._base.keys import COLOR_BAGGAGE, REJECT


@dataclass(frozen=True)
class Seen:
    method: str
    requests: tuple[bytes, ...]
    metadata: dict[str, Any]
    color: str | None


def color_of(metadata: dict[str, Any]) -> str | None:
    """The resilience color in a W3C baggage header, parsed the standard way."""
    for entry in str(metadata.get("baggage", "")).split(","):
        key, _, value = entry.strip().partition("=")
        if key.strip() == COLOR_BAGGAGE:
            return urllib.parse.unquote(value.split(";", 1)[0].strip())
    return None


SyncHook = Callable[[str, dict[str, Any], Any, Any], None]
AioHook = Callable[[str, dict[str, Any], Any, Any], Awaitable[Any]]


class Echo:
    """Handlers plus the record of what they saw (thread-safe)."""

    def __init__(self) -> None:
        self.calls: list[Seen] = []
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def seen(self, method: str, requests: tuple[bytes, ...], context: Any) -> None:
        metadata = dict(context.invocation_metadata())
        with self._lock:
            self.calls.append(Seen(method, requests, metadata, color_of(metadata)))
            self.counts[method] += 1


class SyncEcho(grpc.GenericRpcHandler):
    def __init__(self, echo: Echo, pre: SyncHook | None = None) -> None:
        self.echo, self.pre = echo, pre

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[Any, Any] | None:
        method: str = details.method
        echo, pre = self.echo, self.pre

        def hook(requests: Any, context: Any) -> Any:
            if pre is None:
                return requests
            replaced = pre(method, dict(context.invocation_metadata()), requests, context)
            return requests if replaced is None else replaced

        def say(request: bytes, context: Any) -> bytes:
            hook(request, context)
            echo.seen(method, (request,), context)
            return request

        def collect(requests: Iterator[bytes], context: Any) -> bytes:
            items = tuple(hook(requests, context))
            echo.seen(method, items, context)
            return b"|".join(items)

        def repeat(request: bytes, context: Any) -> Iterator[bytes]:
            echo.seen(method, (request,), context)
            yield request
            yield request

        def chat(requests: Iterator[bytes], context: Any) -> Iterator[bytes]:
            items = tuple(requests)
            echo.seen(method, items, context)
            yield from items

        def fail(request: bytes, context: Any) -> bytes:
            echo.seen(method, (request,), context)
            context.set_trailing_metadata(((REJECT, "shed"),))
            context.abort(grpc.StatusCode[request.decode()], "asked to fail")
            return b""

        table: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
            "/echo.Echo/Say": grpc.unary_unary_rpc_method_handler(say),
            "/echo.Echo/Collect": grpc.stream_unary_rpc_method_handler(collect),
            "/echo.Echo/Repeat": grpc.unary_stream_rpc_method_handler(repeat),
            "/echo.Echo/Chat": grpc.stream_stream_rpc_method_handler(chat),
            "/echo.Echo/Fail": grpc.unary_unary_rpc_method_handler(fail),
        }
        return table.get(method)


class AioEcho(grpc.GenericRpcHandler):
    def __init__(self, echo: Echo, pre: AioHook | None = None) -> None:
        self.echo, self.pre = echo, pre

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[Any, Any] | None:
        method: str = details.method
        echo, pre = self.echo, self.pre

        async def say(request: bytes, context: Any) -> bytes:
            if pre is not None:
                await pre(method, dict(context.invocation_metadata()), request, context)
            echo.seen(method, (request,), context)
            return request

        async def collect(requests: AsyncIterator[bytes], context: Any) -> bytes:
            if pre is not None:
                metadata = dict(context.invocation_metadata())
                requests = await pre(method, metadata, requests, context) or requests
            items = tuple([item async for item in requests])
            echo.seen(method, items, context)
            return b"|".join(items)

        async def repeat(request: bytes, context: Any) -> AsyncIterator[bytes]:
            echo.seen(method, (request,), context)
            yield request
            yield request

        async def fail(request: bytes, context: Any) -> bytes:
            echo.seen(method, (request,), context)
            await context.abort(
                grpc.StatusCode[request.decode()],
                "asked to fail",
                trailing_metadata=((REJECT, "shed"),),
            )
            return b""

        table: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
            "/echo.Echo/Say": grpc.unary_unary_rpc_method_handler(say),
            "/echo.Echo/Collect": grpc.stream_unary_rpc_method_handler(collect),
            "/echo.Echo/Repeat": grpc.unary_stream_rpc_method_handler(repeat),
            "/echo.Echo/Fail": grpc.unary_unary_rpc_method_handler(fail),
        }
        return table.get(method)


class RunningServer:
    """A started server; ``target`` is ``127.0.0.1:PORT``. Use as a context manager."""

    def __init__(
        self, aio: bool, handlers: list[grpc.GenericRpcHandler], interceptors: Any = ()
    ) -> None:
        self.aio = aio
        self._handlers = handlers
        self._interceptors = list(interceptors)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Any = None
        self.target = ""

    def __enter__(self) -> RunningServer:
        if not self.aio:
            server = grpc.server(
                futures.ThreadPoolExecutor(max_workers=16),
                handlers=self._handlers,
                interceptors=self._interceptors,
            )
            port = server.add_insecure_port("127.0.0.1:0")
            server.start()
            self._server = server
        else:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._thread = threading.Thread(target=loop.run_forever, daemon=True)
            self._thread.start()
            port = asyncio.run_coroutine_threadsafe(self._start_aio(), loop).result(10)
        self.target = f"127.0.0.1:{port}"
        return self

    async def _start_aio(self) -> int:
        server = grpc.aio.server(handlers=self._handlers, interceptors=self._interceptors)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        self._server = server
        return port

    def __exit__(self, *exc: object) -> None:
        if self._loop is None:
            self._server.stop(None).wait(5)
            return
        asyncio.run_coroutine_threadsafe(self._server.stop(None), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(5)
        self._loop.close()


def echo_server(aio: bool, echo: Echo, pre: Any = None) -> RunningServer:
    """A running echo server of the given kind sharing ``echo``'s record."""
    handler: grpc.GenericRpcHandler = AioEcho(echo, pre) if aio else SyncEcho(echo, pre)
    return RunningServer(aio, [handler])
