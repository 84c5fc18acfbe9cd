"""A response stream that ends badly after it began: the handler sends its initial metadata,
streams two responses, then aborts (``context.abort``) or raises. Through a protected client
and server (sync and aio, ``protect()`` and interceptor forms, server- and bidi-streaming) the
client sees what it sees without the library: the initial metadata, the two responses, then
the handler's code and details (a raise: UNKNOWN with the library's generic details, never
the exception's text). The server's bulkhead place is freed once (the next call
runs), and each side's observers hear the call end once, with that code."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import grpc.aio
import pytest

from resilience.interceptors import (
    AioClientInterceptor,
    AioServerInterceptor,
    ClientInterceptor,
    ServerInterceptor,
)
from resilience.policy import Policy

from .harness import Recorder

pytestmark = pytest.mark.e2e  # real servers on 127.0.0.1

SERVICE = "my.Feed"
POLICY = Policy.from_dict(
    {
        "methods": {
            f"/{SERVICE}/*": {
                "bulkhead": {"max_concurrent": 1, "side": "server"},
                "breaker": {"min_requests": 1000},
            }
        }
    }
)
"""One call at a time on the server: a place not freed refuses the next call."""
INITIAL = (("x-feed", "initial"),)
SHAPES = ("unary_stream", "stream_stream")
ENDS = ("abort", "raise")

Seen = tuple[list[tuple[str, str]], list[bytes], grpc.StatusCode, str]


def _sync_handlers(end: str) -> grpc.GenericRpcHandler:
    def feed(request: Any, context: grpc.ServicerContext) -> Iterator[bytes]:
        context.send_initial_metadata(INITIAL)
        yield b"one"
        yield b"two"
        if end == "abort":
            context.abort(grpc.StatusCode.NOT_FOUND, "feed gone")
        raise RuntimeError("feed broke")

    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Feed": grpc.unary_stream_rpc_method_handler(feed),
            "Chat": grpc.stream_stream_rpc_method_handler(feed),
        },
    )


def _aio_handlers(end: str) -> grpc.GenericRpcHandler:
    async def feed(request: Any, context: Any) -> AsyncIterator[bytes]:
        await context.send_initial_metadata(INITIAL)
        yield b"one"
        yield b"two"
        if end == "abort":
            await context.abort(grpc.StatusCode.NOT_FOUND, "feed gone")
        raise RuntimeError("feed broke")

    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Feed": grpc.unary_stream_rpc_method_handler(feed),
            "Chat": grpc.stream_stream_rpc_method_handler(feed),
        },
    )


def _method(shape: str) -> str:
    return f"/{SERVICE}/Feed" if shape == "unary_stream" else f"/{SERVICE}/Chat"


def _request(shape: str) -> Any:
    return b"go" if shape == "unary_stream" else iter([b"go"])


def _sync_seen(channel: Any, shape: str) -> Seen:
    call = getattr(channel, shape)(_method(shape))(_request(shape), timeout=10)
    initial = [tuple(item) for item in call.initial_metadata() or ()]
    responses: list[bytes] = []
    with pytest.raises(grpc.RpcError):
        responses.extend(call)
    return initial, responses, call.code(), call.details() or ""


def sync_run(end: str, shape: str, form: str | None) -> tuple[Seen, Recorder, Recorder]:
    """What a sync client sees; ``form`` None: no library on either side."""
    server_seen, client_seen = Recorder(), Recorder()
    pool = ThreadPoolExecutor(4)
    server: Any = grpc.server(pool)
    interceptor = ServerInterceptor(POLICY, observers=[server_seen])
    if form == "protect":
        server = interceptor.protect(server)
    elif form == "interceptors":
        server = grpc.server(pool, interceptors=[interceptor])
    server.add_generic_rpc_handlers((_sync_handlers(end),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as raw:
            client = ClientInterceptor(POLICY, observers=[client_seen])
            channel: Any = raw
            if form == "protect":
                channel = client.protect(raw)
            elif form == "interceptors":
                channel = grpc.intercept_channel(raw, client)
            seen = _sync_seen(channel, shape)
            again = _sync_seen(channel, shape)  # refused if the first kept its place
            assert again == seen
    finally:
        server.stop(None).wait()
        pool.shutdown(wait=False)
        interceptor.close()
    return seen, server_seen, client_seen


async def _aio_seen(channel: Any, shape: str) -> Seen:
    call = getattr(channel, shape)(_method(shape))(_request(shape), timeout=10)
    initial = [tuple(item) for item in await call.initial_metadata() or ()]
    responses: list[bytes] = []
    try:
        async for response in call:
            responses.append(response)
    except grpc.aio.AioRpcError:
        pass
    else:
        pytest.fail("the stream ended OK")
    return initial, responses, await call.code(), await call.details() or ""


def aio_run(end: str, shape: str, form: str | None) -> tuple[Seen, Recorder, Recorder]:
    server_seen, client_seen = Recorder(), Recorder()

    async def scenario() -> Seen:
        interceptor = AioServerInterceptor(POLICY, observers=[server_seen])
        server: Any = grpc.aio.server()
        if form == "protect":
            server = interceptor.protect(server)
        elif form == "interceptors":
            server = grpc.aio.server(interceptors=[interceptor])
        server.add_generic_rpc_handlers((_aio_handlers(end),))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            address = f"127.0.0.1:{port}"
            client = AioClientInterceptor(POLICY, observers=[client_seen])
            if form == "protect":
                channel: Any = client.protect(grpc.aio.insecure_channel(address))
            elif form == "interceptors":
                channel = grpc.aio.insecure_channel(address, interceptors=client)
            else:
                channel = grpc.aio.insecure_channel(address)
            async with channel:
                seen = await _aio_seen(channel, shape)
                again = await _aio_seen(channel, shape)  # refused if the first kept its place
                assert again == seen
                return seen
        finally:
            await server.stop(None)
            interceptor.close()

    return asyncio.run(scenario()), server_seen, client_seen


EXPECTED = {"abort": grpc.StatusCode.NOT_FOUND, "raise": grpc.StatusCode.UNKNOWN}


@pytest.mark.parametrize("flavour", ["sync", "aio"])
@pytest.mark.parametrize("form", ["protect", "interceptors"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("end", ENDS)
def test_a_stream_that_ends_badly_after_it_began_reaches_the_client_as_it_is(
    flavour: str, form: str, shape: str, end: str
) -> None:
    run = aio_run if flavour == "aio" else sync_run
    bare, _, _ = run(end, shape, None)
    seen, server_seen, client_seen = run(end, shape, form)
    initial, responses, code, details = seen
    if end == "raise":  # the library's generic details: no exception text leaves the server
        assert details == "internal server error"
        bare = (*bare[:3], details)
    assert seen == bare
    assert ("x-feed", "initial") in initial
    assert (responses, code) == ([b"one", b"two"], EXPECTED[end])
    for recorder in (server_seen, client_seen):
        ended = recorder.wait_ended(2)
        assert [(o.code, o.reject_reason) for _, o in ended] == [(EXPECTED[end], None)] * 2
        assert len(recorder.started) == 2
