"""The bounded request log: an attempt replays what earlier attempts pulled, then pulls on;
past the bounds the call stops being replayable but the stream itself goes on untouched."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from hypothesis import given
from hypothesis import strategies as st

from resilience.failover._requests import AioRequestLog, RequestLog, message_size


def test_a_second_attempt_replays_then_continues_the_stream() -> None:
    log = RequestLog(iter([b"a", b"b", b"c"]))
    first = log.attempt()
    assert [next(first), next(first)] == [b"a", b"b"]  # the local attempt stopped early
    assert list(log.attempt()) == [b"a", b"b", b"c"]
    assert log.replayable


@given(
    messages=st.lists(st.binary(max_size=8), max_size=30),
    pulled=st.integers(min_value=0, max_value=30),
    max_messages=st.integers(min_value=0, max_value=30),
    max_bytes=st.integers(min_value=0, max_value=200),
)
def test_replayable_iff_within_bounds_and_then_exact(
    messages: list[bytes], pulled: int, max_messages: int, max_bytes: int
) -> None:
    log = RequestLog(iter(messages), max_messages=max_messages, max_bytes=max_bytes)
    first = log.attempt()
    taken = [message for _, message in zip(range(pulled), first, strict=False)]
    assert taken == messages[:pulled]  # the caller's stream is never altered
    size = sum(len(m) for m in taken)
    assert log.replayable == (len(taken) <= max_messages and size <= max_bytes)
    if log.replayable:
        assert list(log.attempt()) == messages


def test_release_forgets_the_messages() -> None:
    log = RequestLog(iter([b"a"]))
    assert list(log.attempt()) == [b"a"]
    log.release()
    assert not log.replayable


def test_the_aio_log_reads_async_and_sync_sources() -> None:
    async def source() -> AsyncIterator[bytes]:
        for part in (b"x", b"y"):
            yield part

    async def run() -> tuple[list[bytes], list[bytes]]:
        async_log = AioRequestLog(source())
        first = async_log.attempt()
        assert await anext(first) == b"x"
        replayed = [message async for message in async_log.attempt()]
        sync_log = AioRequestLog([b"p", b"q"], max_messages=1)
        pulled = [message async for message in sync_log.attempt()]
        assert not sync_log.replayable
        return replayed, pulled

    assert asyncio.run(run()) == ([b"x", b"y"], [b"p", b"q"])


def test_message_size_uses_the_cheapest_exact_measure() -> None:
    class Proto:
        def ByteSize(self) -> int:
            return 42

    assert message_size(b"abc", None) == 3
    assert message_size(Proto(), None) == 42
    assert message_size("text", lambda m: m.encode() * 2) == 8
