"""The aio call objects behave like grpc.aio's: awaitable, ``code()``, done callbacks,
``cancel()``, ``read()`` and the ``write()`` / ``done_writing()`` API, failover included."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import grpc.aio
import pytest
import pytest_asyncio

from resilience.algorithms import AdaptiveRetryWindow
from resilience.failover import AioDualCenterChannel
from resilience.testing import ManualClock

from .centers import CHAT, READ, READ_STREAM, UPLOAD
from .conftest import READS, Centers


@pytest_asyncio.fixture
async def channel(centers: Centers) -> AsyncIterator[AioDualCenterChannel]:
    centers.local.fail_every = 1
    async with AioDualCenterChannel(
        grpc.aio.insecure_channel(centers.local_address),
        grpc.aio.insecure_channel(centers.remote_address),
        policy=READS,
        window=AdaptiveRetryWindow(initial=100, clock=ManualClock()),
    ) as channel:
        yield channel


@pytest.mark.asyncio
async def test_an_awaited_call_reports_the_answering_attempt(
    channel: AioDualCenterChannel,
) -> None:
    done: list[object] = []
    call = channel.unary_unary(READ)(b"x", timeout=5)
    call.add_done_callback(done.append)
    assert await call == b"remote:x"
    assert await call.code() == grpc.StatusCode.OK
    assert call.done()
    assert not call.cancelled()
    await asyncio.sleep(0)  # done callbacks run on the next loop turn
    assert done == [call]


@pytest.mark.asyncio
@pytest.mark.parametrize("timeout", [None, 30.0])
async def test_time_remaining_is_none_without_a_timeout(
    channel: AioDualCenterChannel, timeout: float | None
) -> None:
    """As grpc.aio's own calls (the sync channel's twin test is in test_channel_contract)."""
    unary = channel.unary_unary(READ)(b"x", timeout=timeout)
    stream = channel.unary_stream(READ_STREAM)(b"x", timeout=timeout)
    for remaining in (unary.time_remaining(), stream.time_remaining()):
        if timeout is None:
            assert remaining is None
        else:
            assert remaining is not None
            assert 0 <= remaining <= timeout
    assert await unary == b"remote:x"
    assert [message async for message in stream]


@pytest.mark.asyncio
async def test_a_cancelled_call_does_not_fail_over(
    channel: AioDualCenterChannel, centers: Centers
) -> None:
    centers.local.delay = 5.0
    call = channel.unary_unary(READ)(b"x", timeout=10)
    await asyncio.sleep(0.05)
    assert call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert call.cancelled()
    assert await call.code() == grpc.StatusCode.CANCELLED
    assert centers.remote.received == []


@pytest.mark.asyncio
@pytest.mark.parametrize("failing_local", [False, True], ids=["local", "remote"])
async def test_a_cancel_that_returns_true_settles_the_call_at_once(
    channel: AioDualCenterChannel, centers: Centers, failing_local: bool
) -> None:
    """As with grpc.aio's own calls: cancelled() and done() at once, callbacks run."""
    answering = centers.remote if failing_local else centers.local
    if not failing_local:
        centers.local.fail_every = 0
    answering.delay = 10.0
    done: list[object] = []
    call = channel.stream_unary(UPLOAD)(iter([b"a"]), timeout=30)
    call.add_done_callback(done.append)
    while not answering.received:
        await asyncio.sleep(0.01)
    assert call.cancel()
    assert (call.cancelled(), call.done()) == (True, True)
    assert not call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert await call.code() == grpc.StatusCode.CANCELLED
    await asyncio.sleep(0)
    assert done == [call]
    stats = channel.stats()
    assert (stats.admitted, stats.succeeded, stats.failed) == (
        int(failing_local),
        int(failing_local),
        0,
    )


@pytest.mark.asyncio
async def test_a_cancelled_remote_stream_still_counts_its_outcome(
    channel: AioDualCenterChannel, centers: Centers
) -> None:
    centers.remote.delay = 10.0
    call = channel.unary_stream(READ_STREAM)(b"x", timeout=30)
    reading = asyncio.ensure_future(call.read())
    while not centers.remote.received:
        await asyncio.sleep(0.01)
    assert call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    stats = channel.stats()
    assert (stats.admitted, stats.succeeded, stats.failed) == (1, 1, 0)


@pytest.mark.asyncio
async def test_read_returns_messages_then_eof(channel: AioDualCenterChannel) -> None:
    call = channel.unary_stream(READ_STREAM)(b"s", timeout=5)
    messages = []
    while (message := await call.read()) is not grpc.aio.EOF:
        messages.append(message)
    assert messages == [b"remote:s:0", b"remote:s:1", b"remote:s:2"]
    assert await call.code() == grpc.StatusCode.OK


@pytest.mark.asyncio
async def test_written_requests_are_replayed(channel: AioDualCenterChannel) -> None:
    upload = channel.stream_unary(UPLOAD)(timeout=5)
    for part in (b"a", b"b"):
        await upload.write(part)
    await upload.done_writing()
    assert await upload == b"remote:a,b"

    chat = channel.stream_stream(CHAT)(timeout=5)
    await chat.write(b"x")
    await chat.done_writing()
    assert [message async for message in chat] == [b"remote:x"]


@pytest.mark.asyncio
async def test_write_needs_a_call_without_an_iterator(channel: AioDualCenterChannel) -> None:
    call = channel.stream_unary(UPLOAD)(iter([b"a"]), timeout=5)
    with pytest.raises(grpc.aio.UsageError):
        await call.write(b"b")
    assert await call == b"remote:a"
