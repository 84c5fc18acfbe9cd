"""The protected channel and server (``protect``): what only they do. Every other interceptor
scenario already runs through them too (the ``-protected`` harness flavours)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import grpc.aio
import pytest

from resilience._base.keys import REJECT
from resilience.interceptors import (
    AioClientInterceptor,
    AioServerInterceptor,
    ClientInterceptor,
    ServerInterceptor,
)
from resilience.policy import Policy
from resilience.testing import ECHO_METHODS

from .harness import SHAPES, Failure, Harness

pytestmark = pytest.mark.e2e  # real servers on 127.0.0.1

LIMIT_ONE = Policy.from_dict({"methods": {"*": {"rate_limit": {"limit": 1, "window": 60.0}}}})
CLIENT_ABORT = Policy.from_dict(
    {
        "faults": [{"side": "client", "abort": "UNAVAILABLE", "message": "refused here"}],
        "chaos": {"enabled": True, "seed": 7},
    }
)


@pytest.mark.parametrize("shape", SHAPES)
def test_a_call_refused_locally_fails_the_same_in_every_shape(harness: Harness, shape: str) -> None:
    server = harness.server()
    client = harness.client(server.address, policy=CLIENT_ABORT)

    result = client.call(shape)

    assert isinstance(result, Failure)
    assert (result.code, result.details) == (grpc.StatusCode.UNAVAILABLE, "refused here")
    assert result.trailing[REJECT] == "fault"
    assert server.behavior.calls == 0


def _echo(request: bytes, context: grpc.ServicerContext) -> bytes:
    return request


async def _aio_echo(request: bytes, context: Any) -> bytes:
    return request


def test_registered_method_handlers_are_protected_sync() -> None:
    protection = ServerInterceptor(LIMIT_ONE)
    pool = ThreadPoolExecutor(4)
    server = protection.protect(grpc.server(pool))
    server.add_registered_method_handlers(
        "t.Echo", {"Say": grpc.unary_unary_rpc_method_handler(_echo)}
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            say: Any = channel.unary_unary("/t.Echo/Say", _registered_method=True)  # type: ignore[call-arg]
            assert say(b"a", timeout=5) == b"a"
            with pytest.raises(grpc.RpcError) as refused:
                say(b"b", timeout=5)
        assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        server.stop(None).wait()
        pool.shutdown(wait=False)


def test_registered_method_handlers_are_protected_aio() -> None:
    async def scenario() -> grpc.StatusCode:
        server = AioServerInterceptor(LIMIT_ONE).protect(grpc.aio.server())
        server.add_registered_method_handlers(
            "t.Echo", {"Say": grpc.unary_unary_rpc_method_handler(_aio_echo)}
        )
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                say: Any = channel.unary_unary("/t.Echo/Say", _registered_method=True)  # type: ignore[call-arg]
                assert await say(b"a", timeout=5) == b"a"
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await say(b"b", timeout=5)
            return refused.value.code()
        finally:
            await server.stop(None)

    assert asyncio.run(scenario()) is grpc.StatusCode.RESOURCE_EXHAUSTED


def test_a_refused_aio_call_answers_like_a_grpc_aio_call() -> None:
    async def scenario() -> tuple[Any, ...]:
        plain = grpc.aio.insecure_channel("127.0.0.1:9")  # never reached: refused locally
        async with AioClientInterceptor(CLIENT_ABORT).protect(plain) as channel:
            multicallable: Any = channel.unary_unary(ECHO_METHODS["unary_unary"])
            call = multicallable(b"x", timeout=5)
            code = await call.code()
            details = await call.details()
            trailing = dict(await call.trailing_metadata())
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await call
            return code, details, trailing[REJECT], call.done(), raised.value.code()

    assert asyncio.run(scenario()) == (
        grpc.StatusCode.UNAVAILABLE,
        "refused here",
        "fault",
        True,
        grpc.StatusCode.UNAVAILABLE,
    )


def test_protect_refuses_what_it_cannot_protect() -> None:
    with pytest.raises(TypeError, match="AioClientInterceptor"):
        ClientInterceptor().protect(object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"grpc\.server"):
        ServerInterceptor().protect(object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"grpc\.aio\.server"):
        AioServerInterceptor().protect(object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"pass \(handler,\)"):
        ServerInterceptor().protect_handlers(grpc.method_handlers_generic_handler("t.E", {}))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="method_handlers_generic_handler"):
        ServerInterceptor().protect_handlers([object()])  # type: ignore[list-item]


def test_protected_handlers_on_a_plain_server() -> None:
    """``protect_handlers`` for a server the library is not given: same admission."""
    protection = ServerInterceptor(LIMIT_ONE)
    pool = ThreadPoolExecutor(4)
    server = grpc.server(pool)
    echo = grpc.method_handlers_generic_handler(
        "t.Echo", {"Say": grpc.unary_unary_rpc_method_handler(_echo)}
    )
    server.add_generic_rpc_handlers(protection.protect_handlers((echo,)))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            say: Any = channel.unary_unary("/t.Echo/Say")
            assert say(b"a", timeout=5) == b"a"
            with pytest.raises(grpc.RpcError) as refused:
                say(b"b", timeout=5)
        assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        server.stop(None).wait()
        pool.shutdown(wait=False)


def test_a_policy_reload_reaches_a_protected_server(harness: Harness) -> None:
    server = harness.server()
    client = harness.client(server.address)
    assert [client.call(), client.call()] == [[b"ping"], [b"ping"]]

    server.interceptor.update_policy(LIMIT_ONE)

    assert client.call() == [b"ping"]
    refused = client.call()
    assert isinstance(refused, Failure)
    assert refused.code is grpc.StatusCode.RESOURCE_EXHAUSTED


def test_handlers_registered_before_protect_are_protected_sync() -> None:
    """Generic and registered-method handlers put on the server before ``protect`` (as a
    service written ``add_*_to_server(servicer, server)`` then ``protect(server)`` does) run
    the stack too; grpc.aio keeps its handlers out of reach (docs: register after protect)."""
    one = {"rate_limit": {"limit": 1, "window": 60.0}}
    protection = ServerInterceptor(
        Policy.from_dict({"methods": {"/t.Echo/*": one, "/t.Registered/*": one}})
    )
    pool = ThreadPoolExecutor(4)
    raw = grpc.server(pool)
    raw.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "t.Echo", {"Say": grpc.unary_unary_rpc_method_handler(_echo)}
            ),
        )
    )
    raw.add_registered_method_handlers(
        "t.Registered", {"Say": grpc.unary_unary_rpc_method_handler(_echo)}
    )
    server = protection.protect(raw)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            for method, registered in (("/t.Echo/Say", False), ("/t.Registered/Say", True)):
                say: Any = channel.unary_unary(method, _registered_method=registered)  # type: ignore[call-arg]
                assert say(b"a", timeout=5) == b"a"
                with pytest.raises(grpc.RpcError) as refused:
                    say(b"b", timeout=5)
                assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        server.stop(None).wait()
        pool.shutdown(wait=False)
