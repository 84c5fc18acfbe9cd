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


def _drain(call: Iterator[Any]) -> Iterator[Any]:
    try:
        yield from call
    except grpc.RpcError:
        return


def _has(received: list[Any], count: int) -> bool:
    return len(received) == count
