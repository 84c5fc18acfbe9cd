"""A plain-function handler on a grpc.aio server (gRPC runs it in its migration thread pool)
cannot be protected: it still answers, and the server log says so once per method."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import grpc.aio
import pytest

from resilience.interceptors import AioServerInterceptor

pytestmark = pytest.mark.e2e

METHOD = "/plain.Plain/Echo"


def echo(request: bytes, context: Any) -> bytes:
    return request


async def serve_twice(protected: bool) -> list[bytes]:
    interceptor = AioServerInterceptor()
    pool = ThreadPoolExecutor(max_workers=2)
    if protected:
        server = interceptor.protect(grpc.aio.server(migration_thread_pool=pool))
    else:
        server = grpc.aio.server(interceptors=[interceptor], migration_thread_pool=pool)
    handler: Any = grpc.unary_unary_rpc_method_handler(echo)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("plain.Plain", {"Echo": handler}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            say: Any = channel.unary_unary(METHOD)
            return [await say(b"one", timeout=5), await say(b"two", timeout=5)]
    finally:
        await server.stop(None)
        pool.shutdown(wait=False)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("form", ["protect", "interceptor"])
def test_a_plain_handler_answers_and_the_log_says_once_it_is_unprotected(
    form: str, caplog: pytest.LogCaptureFixture
) -> None:
    from resilience.interceptors import _server_common

    _server_common._warned.discard(METHOD)
    with caplog.at_level(logging.WARNING, logger="resilience"):
        answers = asyncio.run(serve_twice(form == "protect"))
    assert answers == [b"one", b"two"]
    warnings = [r.getMessage() for r in caplog.records if "plain function" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert METHOD in warnings[0]
    assert "async def" in warnings[0]
