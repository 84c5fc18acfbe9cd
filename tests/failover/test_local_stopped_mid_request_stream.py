"""The local center stops while a request stream is being sent, with the caller's own
metadata and no timeout (sync and aio, both centers' channels protected): nothing was
answered yet, so the call fails over once, and the remote center receives every message (the
ones sent before the stop replayed) with the caller's metadata and the failover mark."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import grpc.aio
import pytest

from resilience import (
    AioClientInterceptor,
    AioDualCenterChannel,
    ClientInterceptor,
    DualCenterChannel,
    Policy,
)
from resilience.testing import ECHO_METHODS, AioEchoServer, EchoBehavior, EchoServer

pytestmark = pytest.mark.e2e

READS = Policy.from_dict({"methods": {"/resilience.testing.Echo/*": {"read": True}}})
UPLOAD = ECHO_METHODS["stream_unary"]
CALLER = (("x-user", "alice"),)


class Remote:
    """What reached the remote center: (joined request, x-user, failover mark)."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, str | None, str | None]] = []

    def behavior(self) -> EchoBehavior:
        def look(request: bytes, context: Any) -> None:
            metadata = dict(context.invocation_metadata())
            mark = metadata.get("x-resilience-failover")
            self.received.append((request, metadata.get("x-user"), mark))

        return EchoBehavior(on_call=look)


def test_sync_local_stopped_mid_request_stream_fails_over_with_everything() -> None:
    remote = Remote()
    with EchoServer(behavior=remote.behavior()) as far:
        near = EchoServer().start()
        channel = DualCenterChannel(
            ClientInterceptor(READS).protect(grpc.insecure_channel(near.address)),
            ClientInterceptor(READS).protect(grpc.insecure_channel(far.address)),
            policy=READS,
            target="far",
        )

        def messages() -> Iterator[bytes]:
            yield b"a"
            near.stop(None)  # the local center goes away mid-stream
            yield b"b"
            yield b"c"

        assert channel.stream_unary(UPLOAD)(messages(), metadata=CALLER) == b"abc"
        channel.close()
    assert remote.received == [(b"abc", "alice", "1")]


def test_aio_local_stopped_mid_request_stream_fails_over_with_everything() -> None:
    remote = Remote()

    async def scenario() -> bytes:
        async with AioEchoServer(behavior=remote.behavior()) as far:
            near = await AioEchoServer().start()
            channel: Any = AioDualCenterChannel(
                AioClientInterceptor(READS).protect(grpc.aio.insecure_channel(near.address)),
                AioClientInterceptor(READS).protect(grpc.aio.insecure_channel(far.address)),
                policy=READS,
                target="far",
            )

            async def messages() -> AsyncIterator[bytes]:
                yield b"a"
                await near.stop(None)
                yield b"b"
                yield b"c"

            answer: bytes = await channel.stream_unary(UPLOAD)(messages(), metadata=CALLER)
            await channel.close()
            return answer

    assert asyncio.run(scenario()) == b"abc"
    assert remote.received == [(b"abc", "alice", "1")]
