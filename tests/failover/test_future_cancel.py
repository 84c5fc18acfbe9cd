"""``cancel()`` on the sync channel's call objects keeps the ``grpc.Future`` contract: once it
returns True the call is at once cancelled and done, ``result()`` and ``exception()`` raise
``grpc.FutureCancelledError``, the status is CANCELLED and the done callbacks run, whether the
local attempt or the remote one (after a failover) was in flight."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest

from conformance.support import wait_until
from resilience.algorithms import AdaptiveRetryWindow
from resilience.failover import DualCenterChannel
from resilience.testing import ManualClock

from .centers import READ, READ_STREAM, UPLOAD
from .conftest import READS, Centers

Start = Callable[[DualCenterChannel], Any]

STARTS: dict[str, Start] = {
    "unary future": lambda channel: channel.unary_unary(READ).future(b"x", timeout=30),
    "stream-unary future": lambda channel: channel.stream_unary(UPLOAD).future(
        iter([b"a", b"b"]), timeout=30
    ),
    "response stream": lambda channel: channel.unary_stream(READ_STREAM)(b"x", timeout=30),
}


@pytest.fixture
def channel(centers: Centers) -> Iterator[DualCenterChannel]:
    with DualCenterChannel(
        grpc.insecure_channel(centers.local_address),
        grpc.insecure_channel(centers.remote_address),
        policy=READS,
        window=AdaptiveRetryWindow(initial=100, clock=ManualClock()),
    ) as channel:
        yield channel


def _assert_cancelled_at_once(call: Any) -> None:
    ran = threading.Event()
    assert call.cancel()
    assert call.cancelled()
    assert call.done()
    assert not call.running()
    assert not call.cancel()  # a second cancel changes nothing
    with pytest.raises(grpc.FutureCancelledError):
        call.result(timeout=5)
    with pytest.raises(grpc.FutureCancelledError):
        call.exception(timeout=5)
    assert call.code() == grpc.StatusCode.CANCELLED
    call.add_done_callback(lambda _call: ran.set())
    assert ran.wait(5)


@pytest.mark.parametrize("start", STARTS.values(), ids=STARTS.keys())
def test_cancelling_the_local_attempt(
    channel: DualCenterChannel, centers: Centers, start: Start
) -> None:
    centers.local.delay = 30.0
    for attempt in range(1, 4):
        call = start(channel)
        assert wait_until(functools.partial(_has, centers.local.received, attempt))
        _assert_cancelled_at_once(call)
    assert centers.remote.received == []


@pytest.mark.parametrize("start", STARTS.values(), ids=STARTS.keys())
def test_cancelling_the_remote_attempt(
    channel: DualCenterChannel, centers: Centers, start: Start
) -> None:
    centers.local.fail_every = 1
    centers.remote.delay = 30.0
    for attempt in range(1, 4):
        call = start(channel)
        if isinstance(call, Iterator):  # a stream fails over when it is read
            threading.Thread(target=list, args=(_drain(call),), daemon=True).start()
        assert wait_until(functools.partial(_has, centers.remote.received, attempt))
        _assert_cancelled_at_once(call)
    # each admitted failover ends in exactly one of succeeded / failed, cancelled or not
    assert wait_until(lambda: channel.stats().succeeded == 3)
    assert (channel.stats().admitted, channel.stats().failed) == (3, 0)


class _HoldStart(grpc.UnaryUnaryClientInterceptor, grpc.StreamUnaryClientInterceptor):
    """On the remote channel: starts each attempt, then holds the failover thread (before the
    channel's future learns of the remote attempt) until the test releases it."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started: list[Any] = []

    def _hold(self, continuation: Any, details: Any, request: Any) -> Any:
        call = continuation(details, request)
        self.started.append(call)
        self.release.wait(30)
        return call

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return self._hold(continuation, details, request)

    def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return self._hold(continuation, details, requests)


FUTURES = {name: STARTS[name] for name in ("unary future", "stream-unary future")}


@pytest.mark.parametrize("start", FUTURES.values(), ids=FUTURES.keys())
def test_cancelling_while_the_remote_attempt_starts(centers: Centers, start: Start) -> None:
    """cancel() after the remote attempt reached its server but before the future switched to
    it (a loaded host parks the failover thread there) cancels: the future is not done yet."""
    centers.local.fail_every = 1
    gate = centers.local.gate = threading.Event()  # the local attempt fails after future()
    centers.remote.delay = 30.0  # returned, so the failover runs on gRPC's thread, not the test's
    hold = _HoldStart()
    remote = grpc.intercept_channel(grpc.insecure_channel(centers.remote_address), hold)
    window = AdaptiveRetryWindow(initial=100, clock=ManualClock())
    local = grpc.insecure_channel(centers.local_address)
    with DualCenterChannel(local, remote, policy=READS, window=window) as channel:
        try:
            call = start(channel)
            assert wait_until(functools.partial(_has, centers.local.received, 1))
            gate.set()
            assert wait_until(functools.partial(_has, centers.remote.received, 1))
            _assert_cancelled_at_once(call)
        finally:
            gate.set()
            hold.release.set()
        # the failover thread, released, finds the cancel and ends the remote attempt
        assert wait_until(lambda: channel.stats().succeeded == 1)
        assert hold.started[0].cancelled()
        assert (channel.stats().admitted, channel.stats().failed) == (1, 0)


def _drain(call: Iterator[Any]) -> Iterator[Any]:
    try:
        yield from call
    except grpc.RpcError:
        return


def _has(received: list[Any], count: int) -> bool:
    return len(received) == count
