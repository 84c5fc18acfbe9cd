"""With the local center down (nothing listening), a call whose request stream is empty fails
over like any other: grpc.aio would otherwise half-close the local attempt before it failed and
cancel it itself, and the caller would see ``asyncio.CancelledError`` instead of the remote
answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import grpc
import grpc.aio
import pytest

from conformance.support import closed_address
from resilience.algorithms import AdaptiveRetryWindow
from resilience.failover import AioDualCenterChannel
from resilience.testing import ManualClock

from .centers import CHAT, UPLOAD
from .conftest import OK, READS, Centers, ClientFactory, Outcome


def test_empty_request_streams_fail_over(centers: Centers, make_client: ClientFactory) -> None:
    window = AdaptiveRetryWindow(initial=100, clock=ManualClock())
    client = make_client(closed_address(), centers.remote_address, policy=READS, window=window)
    for _ in range(5):
        assert client.upload([]) == Outcome(OK, b"remote:")
        assert client.chat([]) == Outcome(OK, [])
    assert client.channel.stats().attempted == 10


async def _nothing() -> AsyncIterator[bytes]:
    """An async generator that yields nothing."""
    messages: tuple[bytes, ...] = ()
    for message in messages:
        yield message


async def _upload_async_iterator(channel: AioDualCenterChannel) -> Any:
    return await channel.stream_unary(UPLOAD)(_nothing(), timeout=10)


async def _upload_done_writing(channel: AioDualCenterChannel) -> Any:
    call = channel.stream_unary(UPLOAD)(timeout=10)
    await call.done_writing()
    return await call


async def _chat_async_iterator(channel: AioDualCenterChannel) -> Any:
    return [message async for message in channel.stream_stream(CHAT)(_nothing(), timeout=10)]


async def _chat_done_writing(channel: AioDualCenterChannel) -> Any:
    call = channel.stream_stream(CHAT)(timeout=10)
    await call.done_writing()
    return [message async for message in call]


Scenario = Callable[[AioDualCenterChannel], Coroutine[Any, Any, Any]]


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        (_upload_async_iterator, b"remote:"),
        (_upload_done_writing, b"remote:"),
        (_chat_async_iterator, []),
        (_chat_done_writing, []),
    ],
)
def test_aio_empty_streams_fail_over_whatever_the_api(
    centers: Centers, scenario: Scenario, expected: Any
) -> None:
    async def run() -> None:
        async with AioDualCenterChannel(
            grpc.aio.insecure_channel(closed_address()),
            grpc.aio.insecure_channel(centers.remote_address),
            policy=READS,
            window=AdaptiveRetryWindow(initial=100, clock=ManualClock()),
        ) as channel:
            for _ in range(5):
                assert await scenario(channel) == expected
            stats = channel.stats()
            assert (stats.attempted, stats.succeeded) == (5, 5)

    asyncio.run(run())
