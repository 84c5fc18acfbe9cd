"""Clients that stop a call early, sync and aio, interceptor and ``protect()`` forms: a loop
left with ``break`` (the stream dropped), a stream cancelled mid-way, a request iterator that
raises, a call cancelled before its answer. Each call ends once for the observers, frees its
bulkhead place, is not counted against the callee by the breaker, and the server's handler
sees it cancelled."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import grpc
import pytest

from resilience.policy import Policy
from resilience.testing import ECHO_METHODS, EchoBehavior

from .harness import AioHarness, Client, Harness, Recorder

POLICY = Policy.from_dict(
    {
        "methods": {
            "*": {
                "breaker": {"min_requests": 1000},
                "bulkhead": {"max_concurrent": 1, "side": "client"},
            }
        }
    }
)
"""One call at a time from the client: a call that never ends would refuse the next one."""


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)
    return condition()


def assert_ended_once(client: Client, seen: Recorder, method: str, code: grpc.StatusCode) -> None:
    """The call ended once with ``code``, its place is free, and the breaker holds no failure
    against the callee."""
    assert wait_until(lambda: len(seen.ended) >= 1)
    time.sleep(0.05)  # a second end would arrive about now
    assert seen.codes() == [code]
    assert len(seen.started) == 1
    states = client.interceptor._pipeline.registry._states  # grpc.aio's interceptors: bytes
    state = states.get(method) or states[method.encode()]
    assert state.bulkhead.active == 0
    requests, accepts = state.breaker.counts()
    assert requests == accepts


def held_until_cancelled(harness: Harness, cancelled: threading.Event) -> Callable[..., Any]:
    """An ``on_call`` hook that waits for the call's cancellation, then sets ``cancelled``."""

    def hook(request: bytes, context: Any) -> None:
        ended = threading.Event()
        context.add_callback(ended.set)
        ended.wait(20)
        if not context.is_active():
            cancelled.set()

    async def aio_hook(request: bytes, context: Any) -> None:
        try:
            await asyncio.sleep(20)
        except asyncio.CancelledError:  # grpc.aio cancels the handler's task
            cancelled.set()
            raise

    return aio_hook if harness.aio else hook


def test_a_stream_left_with_break_ends_cancelled(harness: Harness) -> None:
    """Sync: the stream dropped after the ``break`` is cancelled by gRPC's garbage collection,
    as without the library. grpc.aio never cancels a dropped call (its tasks hold it): there
    the caller cancels it."""
    client_seen, server_seen = Recorder(), Recorder()
    behavior = EchoBehavior(stream_items=1000, stream_interval=0.01)
    server = harness.server(behavior=behavior, observers=[server_seen])
    client = harness.client(server.address, policy=POLICY, observers=[client_seen])
    method = ECHO_METHODS["unary_stream"]
    if isinstance(harness, AioHarness):

        async def leave() -> None:
            call = client.channel.unary_stream(method)(b"x")
            async for _ in call:
                break
            call.cancel()

        harness.run(leave())
    else:
        for _ in client.channel.unary_stream(method)(b"x"):  # no deadline: it would never end
            break
        gc.collect()
    assert_ended_once(client, client_seen, method, grpc.StatusCode.CANCELLED)
    assert wait_until(lambda: server_seen.codes() == [grpc.StatusCode.CANCELLED])
    behavior.stream_items = 2
    assert client.call("unary_stream") == [b"ping"] * 2


@pytest.mark.parametrize("shape", ["stream_unary", "stream_stream"])
def test_a_request_iterator_that_raises_is_not_the_callees_failure(
    harness: Harness, shape: str
) -> None:
    """Sync gRPC ends the call UNKNOWN ("Exception iterating requests!"), grpc.aio raises
    CancelledError to the caller: either way the callee only saw it cancelled."""
    client_seen = Recorder()
    server = harness.server()
    client = harness.client(server.address, policy=POLICY, observers=[client_seen])
    method = ECHO_METHODS[shape]
    multicallable = getattr(client.channel, shape)(method)

    def requests() -> Iterator[bytes]:
        yield b"x"
        raise ValueError("the caller's bug")

    async def aio_requests() -> AsyncIterator[bytes]:
        yield b"x"
        raise ValueError("the caller's bug")

    if isinstance(harness, AioHarness):

        async def read_aio(stream: Any) -> Any:
            if shape == "stream_stream":
                return [response async for response in stream]
            return await stream

        async def call() -> None:
            with pytest.raises(asyncio.CancelledError):
                await read_aio(multicallable(aio_requests(), timeout=10))

        harness.run(call())
        code = grpc.StatusCode.CANCELLED
    else:

        def read(answer: Any) -> Any:
            return list(answer) if shape == "stream_stream" else answer

        with pytest.raises(grpc.RpcError) as raised:
            read(multicallable(requests(), timeout=10))
        assert raised.value.details() == "Exception iterating requests!"
        code = grpc.StatusCode.UNKNOWN
    assert_ended_once(client, client_seen, method, code)
    assert client.call(shape) == ([b"ping", b"ping"] if shape == "stream_stream" else [b"pingping"])


def test_a_call_cancelled_before_its_answer_ends_once(harness: Harness) -> None:
    client_seen = Recorder()
    cancelled = threading.Event()
    behavior = EchoBehavior(on_call=held_until_cancelled(harness, cancelled))
    server = harness.server(behavior=behavior)
    client = harness.client(server.address, policy=POLICY, observers=[client_seen])
    method = ECHO_METHODS["unary_unary"]
    done: list[bool] = []
    if isinstance(harness, AioHarness):

        async def cancel() -> None:
            call = client.channel.unary_unary(method)(b"x", timeout=20)
            call.add_done_callback(lambda c: done.append(c.cancelled()))
            while behavior.calls == 0:
                await asyncio.sleep(0.005)
            assert call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call

        harness.run(cancel())
    else:
        future = client.channel.unary_unary(method).future(b"x", timeout=20)
        future.add_done_callback(lambda f: done.append(f.cancelled()))
        assert wait_until(lambda: behavior.calls == 1)
        assert future.cancel()
    assert_ended_once(client, client_seen, method, grpc.StatusCode.CANCELLED)
    assert wait_until(cancelled.is_set)  # the handler saw it
    assert wait_until(lambda: done == [True])
    behavior.on_call = None
    assert client.call() == [b"ping"]
