"""Channels instrumented by OpenTelemetry's gRPC instrumentation, then protected.

``GrpcInstrumentorClient`` (or ``intercept_channel(channel, client_interceptor())``) hands a
server-streaming call back as a Python generator, not a ``grpc.Call``: it has no done
callback. Both client forms must still answer the call and record its end once (before, the
sync forms raised AttributeError at the call). grpc.aio's instrumentation returns real calls;
it runs the same scenarios.
"""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import grpc
import grpc.aio
import pytest
from opentelemetry.instrumentation import grpc as instrumentation
from opentelemetry.sdk.trace import TracerProvider

from resilience.interceptors import AioClientInterceptor, ClientInterceptor
from resilience.policy import Policy
from resilience.testing import AioEchoServer, EchoBehavior, EchoServer

from .harness import Recorder

OTEL: Any = instrumentation  # untyped: intercept_channel, client_interceptor, ...
STREAM = "/resilience.testing.Echo/ServerStream"
ONE_AT_A_TIME = Policy.from_dict(
    {"methods": {"*": {"bulkhead": {"max_concurrent": 1, "side": "client"}}}}
)
"""A client bulkhead of one place: a stream whose end is not recorded keeps it."""

pytestmark = pytest.mark.e2e


def _sync_channel(address: str, form: str, recorder: Recorder) -> Any:
    traced = OTEL.intercept_channel(
        grpc.insecure_channel(address), OTEL.client_interceptor(tracer_provider=TracerProvider())
    )
    protection = ClientInterceptor(ONE_AT_A_TIME, observers=[recorder])
    if form == "protect":
        return protection.protect(traced)
    return grpc.intercept_channel(traced, protection)


@pytest.mark.parametrize("form", ["protect", "interceptor"])
def test_sync_instrumented_stream_is_answered_and_ended_once(form: str) -> None:
    recorder = Recorder()
    behavior = EchoBehavior()
    with EchoServer(behavior=behavior) as server:
        channel = _sync_channel(server.address, form, recorder)
        stream = channel.unary_stream(STREAM)
        assert list(stream(b"hi", timeout=5)) == [b"hi"] * 3
        assert list(stream(b"again", timeout=5)) == [b"again"] * 3  # the place was freed

        behavior.fail_rate = 1.0
        with pytest.raises(grpc.RpcError) as failed:
            list(stream(b"hi", timeout=5))
        assert failed.value.code() is grpc.StatusCode.UNAVAILABLE

        behavior.fail_rate = 0.0
        dropped = stream(b"never read", timeout=5)
        del dropped
        gc.collect()
        assert list(stream(b"after", timeout=5)) == [b"after"] * 3
    codes = [outcome.code for _, outcome in recorder.ended]
    assert codes == [
        grpc.StatusCode.OK,
        grpc.StatusCode.OK,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.OK,
    ]


@pytest.mark.parametrize("form", ["protect", "interceptor"])
def test_aio_instrumented_stream_is_answered_and_ended_once(form: str) -> None:
    recorder = Recorder()

    async def scenario() -> None:
        behavior = EchoBehavior()
        async with AioEchoServer(behavior=behavior) as server:
            traced = OTEL.aio_client_interceptors(tracer_provider=TracerProvider())
            protection = AioClientInterceptor(ONE_AT_A_TIME, observers=[recorder])
            if form == "protect":
                channel = protection.protect(
                    grpc.aio.insecure_channel(server.address, interceptors=traced)
                )
            else:
                channel = grpc.aio.insecure_channel(
                    server.address, interceptors=[*traced, *protection]
                )
            stream: Any = channel.unary_stream(STREAM)
            assert [r async for r in stream(b"hi", timeout=5)] == [b"hi"] * 3
            assert [r async for r in stream(b"again", timeout=5)] == [b"again"] * 3
            behavior.fail_rate = 1.0
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                [r async for r in stream(b"hi", timeout=5)]
            assert failed.value.code() is grpc.StatusCode.UNAVAILABLE
            await channel.close()

    asyncio.run(scenario())
    codes = [outcome.code for _, outcome in recorder.wait_ended(3)]
    assert codes == [grpc.StatusCode.OK, grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE]
