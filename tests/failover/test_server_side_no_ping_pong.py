"""End to end through the server interceptor: a service handling a failed-over call never fails
its own outgoing reads over again, while the same call unmarked does fail over."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import grpc.aio
import pytest

from resilience.algorithms import AdaptiveRetryWindow
from resilience.failover import AioDualCenterChannel, DualCenterChannel
from resilience.interceptors import AioServerInterceptor, ServerInterceptor
from resilience.testing import ManualClock

from .centers import READ
from .conftest import READS, Centers

MIDDLE = "/test.Middle/Lookup"
MARK = (("x-resilience-failover", "1"),)


def _window() -> AdaptiveRetryWindow:
    return AdaptiveRetryWindow(initial=100, clock=ManualClock())


@pytest.fixture
def middle(centers: Centers) -> Iterator[str]:
    """A sync service whose handler reads from the centers through a DualCenterChannel."""
    centers.local.fail_every = 1
    downstream = DualCenterChannel(
        grpc.insecure_channel(centers.local_address),
        grpc.insecure_channel(centers.remote_address),
        policy=READS,
        window=_window(),
    )

    def lookup(request: bytes, context: grpc.ServicerContext) -> bytes:
        try:
            return downstream.unary_unary(READ)(request, timeout=5)  # type: ignore[no-any-return]
        except grpc.RpcError as error:
            context.abort(error.code(), "downstream failed")

    handler = grpc.method_handlers_generic_handler(
        "test.Middle", {"Lookup": grpc.unary_unary_rpc_method_handler(lookup)}
    )
    server = grpc.server(ThreadPoolExecutor(max_workers=4), interceptors=[ServerInterceptor()])
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(None)
        downstream.close()


def test_sync_service_does_not_fail_a_failed_over_call_over_again(
    middle: str, centers: Centers
) -> None:
    with grpc.insecure_channel(middle) as channel:
        lookup: Any = channel.unary_unary(MIDDLE)
        assert lookup(b"plain", timeout=5) == b"remote:plain"
        with pytest.raises(grpc.RpcError) as raised:
            lookup(b"marked", timeout=5, metadata=MARK)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert [r.request for r in centers.remote.received] == [b"plain"]


@pytest.mark.asyncio
async def test_aio_service_does_not_fail_a_failed_over_call_over_again(centers: Centers) -> None:
    centers.local.fail_every = 1
    downstream = AioDualCenterChannel(
        grpc.aio.insecure_channel(centers.local_address),
        grpc.aio.insecure_channel(centers.remote_address),
        policy=READS,
        window=_window(),
    )

    async def lookup(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        try:
            return await downstream.unary_unary(READ)(request, timeout=5)  # type: ignore[no-any-return]
        except grpc.RpcError as error:
            await context.abort(error.code(), "downstream failed")

    handler = grpc.method_handlers_generic_handler(
        "test.Middle", {"Lookup": grpc.unary_unary_rpc_method_handler(lookup)}
    )
    server = grpc.aio.server(interceptors=[AioServerInterceptor()])
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            lookup_call: Any = channel.unary_unary(MIDDLE)
            assert await lookup_call(b"plain", timeout=5) == b"remote:plain"
            with pytest.raises(grpc.RpcError) as raised:
                await lookup_call(b"marked", timeout=5, metadata=MARK)
    finally:
        await server.stop(None)
        await downstream.close()
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert [r.request for r in centers.remote.received] == [b"plain"]
