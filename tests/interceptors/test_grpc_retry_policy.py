"""gRPC's own configured retries (a ``retryPolicy`` in the channel's service config, as users
set it with ``options=[("grpc.service_config", ...)]``) run beneath the client interceptor,
inside the channel: with the policy's ``retry`` section on the same method the attempts
multiply (the server sees ours times gRPC's ``maxAttempts``), while the interceptor, its
breaker and its observers see only each of our attempts, ending with gRPC's last answer. The
docs say so (policy.md, the ``retry`` section); this test keeps them honest, sync and aio,
``protect()`` and interceptors. gRPC's backoff is 50 ms: with 1 ms, grpcio 1.85's sync channel
now and then leaves a retried call hanging until its deadline, interceptor or not."""

from __future__ import annotations

import asyncio
import json

import grpc
import grpc.aio
import pytest

from resilience import AioClientInterceptor, ClientInterceptor, Policy
from resilience.testing import ECHO_METHODS, EchoBehavior, EchoServer, aio_echo_call, echo_call

from .harness import Recorder

pytestmark = pytest.mark.e2e

UNARY = ECHO_METHODS["unary_unary"]
GRPC_ATTEMPTS = 3
OUR_ATTEMPTS = 2
SERVICE_CONFIG = json.dumps(
    {
        "methodConfig": [
            {
                "name": [{}],
                "retryPolicy": {
                    "maxAttempts": GRPC_ATTEMPTS,
                    "initialBackoff": "0.05s",
                    "maxBackoff": "0.1s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    }
)
OPTIONS = [("grpc.service_config", SERVICE_CONFIG), ("grpc.enable_retries", 1)]
POLICY = {
    "methods": {
        UNARY: {
            "read": True,
            "retry": {"max_attempts": OUR_ATTEMPTS, "base_delay": 0.001, "max_delay": 0.002},
        }
    }
}


async def _aio_call(address: str, interceptor: AioClientInterceptor, protected: bool) -> None:
    if protected:
        channel = interceptor.protect(grpc.aio.insecure_channel(address, options=OPTIONS))
    else:
        channel = grpc.aio.insecure_channel(address, options=OPTIONS, interceptors=interceptor)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await aio_echo_call(channel, "unary_unary", b"x", timeout=10)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await channel.close()


@pytest.mark.parametrize("aio", [False, True], ids=["sync", "aio"])
@pytest.mark.parametrize("protected", [True, False], ids=["protected", "interceptors"])
def test_grpc_retries_multiply_the_policys_and_are_not_seen_by_it(
    aio: bool, protected: bool
) -> None:
    behavior = EchoBehavior(fail_rate=1.0)  # every call ends UNAVAILABLE
    recorder = Recorder()
    policy = Policy.from_dict(POLICY)
    with EchoServer(behavior=behavior) as server:
        if aio:
            aio_interceptor = AioClientInterceptor(policy, observers=[recorder])
            asyncio.run(_aio_call(server.address, aio_interceptor, protected))
        else:
            interceptor = ClientInterceptor(policy, observers=[recorder])
            plain = grpc.insecure_channel(server.address, options=OPTIONS)
            if protected:
                channel = interceptor.protect(plain)
            else:
                channel = grpc.intercept_channel(plain, interceptor)
            with pytest.raises(grpc.RpcError) as caught:
                echo_call(channel, "unary_unary", b"x", timeout=10)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            plain.close()
    assert behavior.calls == OUR_ATTEMPTS * GRPC_ATTEMPTS
    outcomes = [outcome.code for _, outcome in recorder.ended]
    assert outcomes == [grpc.StatusCode.UNAVAILABLE] * OUR_ATTEMPTS
