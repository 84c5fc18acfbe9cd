"""A message over gRPC's size limit (RESOURCE_EXHAUSTED from gRPC itself: a request over the
server's ``grpc.max_receive_message_length``, a response over the client's), sync and aio,
``protect`` and interceptors: the caller gets gRPC's status, the client's observers hear it
(no library rejection reason), and the breaker does not count it against the callee, whose
health it says nothing of. A request the server's gRPC refuses never reaches the server's
interceptor; a response the client refuses was sent OK."""

from __future__ import annotations

import asyncio
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
from resilience.testing import (
    ECHO_METHODS,
    AioEchoServer,
    EchoBehavior,
    EchoServer,
    aio_echo_call,
    echo_call,
)

from .harness import Recorder

pytestmark = pytest.mark.e2e

POLICY = Policy.from_dict({"methods": {"*": {"breaker": {"min_requests": 1000}}}})
SMALL = (("grpc.max_receive_message_length", 1024),)
BIG = b"x" * 4096
UNARY = ECHO_METHODS["unary_unary"]


def setup(too_big: str) -> tuple[EchoBehavior, Any, Any, bytes]:
    """The echo behaviour, server options, channel options and request of a case."""
    behavior = EchoBehavior(
        on_call=(lambda request, context: BIG) if too_big == "response" else None
    )
    server_options = SMALL if too_big == "request" else ()
    channel_options = SMALL if too_big == "response" else ()
    return behavior, server_options, channel_options, BIG if too_big == "request" else b"x"


def check(
    error: Any, client: Any, client_seen: Recorder, server_seen: Recorder, too_big: str
) -> None:
    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "larger than max" in error.details()
    assert [(o.code, o.reject_reason) for _, o in client_seen.ended] == [
        (grpc.StatusCode.RESOURCE_EXHAUSTED, None)
    ]
    states = client._pipeline.registry._states  # grpc.aio's interceptors name it in bytes
    state = states.get(UNARY) or states[UNARY.encode()]
    requests, accepts = state.breaker.counts()
    assert (requests, accepts) == (1, 1)  # not the callee's failure
    if too_big == "response":
        assert server_seen.codes() == [grpc.StatusCode.OK]
    else:
        assert server_seen.ended == []


@pytest.mark.parametrize("protected", [True, False], ids=["protected", "interceptors"])
@pytest.mark.parametrize("too_big", ["request", "response"])
def test_a_message_over_the_size_limit_sync(protected: bool, too_big: str) -> None:
    client_seen, server_seen = Recorder(), Recorder()
    behavior, server_options, channel_options, request = setup(too_big)
    protection = ServerInterceptor(POLICY, observers=[server_seen])
    server = EchoServer(
        behavior=behavior,
        options=server_options,
        **({"protection": protection} if protected else {"interceptors": [protection]}),
    ).start()
    client = ClientInterceptor(POLICY, observers=[client_seen])
    raw = grpc.insecure_channel(server.address, options=channel_options)
    channel = client.protect(raw) if protected else grpc.intercept_channel(raw, client)
    try:
        with pytest.raises(grpc.RpcError) as raised:
            echo_call(channel, "unary_unary", request, timeout=10)
        if too_big == "response":
            server_seen.wait_ended(1)  # the server may hear of it after the client
        check(raised.value, client, client_seen, server_seen, too_big)
    finally:
        channel.close()
        server.stop(None)


@pytest.mark.parametrize("protected", [True, False], ids=["protected", "interceptors"])
@pytest.mark.parametrize("too_big", ["request", "response"])
def test_a_message_over_the_size_limit_aio(protected: bool, too_big: str) -> None:
    client_seen, server_seen = Recorder(), Recorder()
    behavior, server_options, channel_options, request = setup(too_big)

    async def scenario() -> None:
        protection = AioServerInterceptor(POLICY, observers=[server_seen])
        server = await AioEchoServer(
            behavior=behavior,
            options=server_options,
            **({"protection": protection} if protected else {"interceptors": [protection]}),
        ).start()
        client = AioClientInterceptor(POLICY, observers=[client_seen])
        if protected:
            channel = client.protect(
                grpc.aio.insecure_channel(server.address, options=channel_options)
            )
        else:
            channel = grpc.aio.insecure_channel(
                server.address, options=channel_options, interceptors=client
            )
        try:
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await aio_echo_call(channel, "unary_unary", request, timeout=10)
            for _ in range(100):
                if client_seen.ended and (too_big == "request" or server_seen.ended):
                    break
                await asyncio.sleep(0.01)
            check(raised.value, client, client_seen, server_seen, too_big)
        finally:
            await channel.close()
            await server.stop(None)

    asyncio.run(scenario())
