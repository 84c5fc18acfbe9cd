"""A failover never outlives the caller's deadline: the remote attempt gets the time left, and
with none left the local error is returned without spending the window."""

from __future__ import annotations

import time

import grpc

from resilience.algorithms import AdaptiveRetryWindow
from resilience.context import CallContext, use_call_context
from resilience.testing import ManualClock
from timing import Stopwatch

from .conftest import READS, Centers, Client, ClientFactory

SLACK = 0.2
"""Seconds of scheduling slack allowed past a deadline (beyond it, only when the host stalled
the test: see tests/timing.py)."""


def _ran_out_in_a_stall(client: Client, watch: Stopwatch, deadline: float, what: str) -> bool:
    """True when the failover found the caller's ``deadline`` (seconds) gone and the host's
    stall explains it: the local attempt, due well within it, was held past it, so the run
    checks nothing. An overrun the stall does not explain fails (see tests/timing.py)."""
    return client.channel.stats().expired > 0 and not watch.within(deadline, what)


def _client(centers: Centers, make_client: ClientFactory) -> Client:
    window = AdaptiveRetryWindow(initial=100, clock=ManualClock())
    return make_client(centers.local_address, centers.remote_address, policy=READS, window=window)


def test_the_remote_attempt_gets_only_the_time_left(
    centers: Centers, make_client: ClientFactory
) -> None:
    centers.local.fail_every, centers.local.delay = 1, 0.15
    centers.remote.delay = 2.0
    client = _client(centers, make_client)
    with Stopwatch() as watch:
        outcome = client.read(b"x", timeout=0.5)
    if _ran_out_in_a_stall(client, watch, 0.5, "a local failure due at 0.15 s of a 0.5 s timeout"):
        return
    assert outcome.code == grpc.StatusCode.DEADLINE_EXCEEDED
    (remote,) = centers.remote.received
    assert remote.time_remaining is not None
    assert remote.time_remaining <= 0.5 - 0.15
    assert client.channel.stats().admitted == 1
    watch.within(0.5 + SLACK, "a failed-over read with a 0.5 s timeout")


def test_no_time_left_returns_the_local_error_without_failing_over(
    centers: Centers, make_client: ClientFactory
) -> None:
    centers.local.delay = 1.0
    client = _client(centers, make_client)
    with Stopwatch() as watch:
        outcome = client.read(b"x", timeout=0.2)
    assert outcome.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert centers.remote.received == []
    stats = client.channel.stats()
    assert (stats.attempted, stats.expired, stats.admitted) == (1, 1, 0)
    watch.within(0.2 + SLACK, "a read with a 0.2 s timeout")


def test_an_inherited_deadline_bounds_the_failover(
    centers: Centers, make_client: ClientFactory
) -> None:
    centers.local.fail_every, centers.local.delay = 1, 0.1
    centers.remote.delay = 2.0
    client = _client(centers, make_client)
    with Stopwatch() as watch, use_call_context(CallContext(deadline=time.monotonic() + 0.4)):
        outcome = client.read(b"x")  # no timeout of its own
    if _ran_out_in_a_stall(client, watch, 0.4, "a local failure due at 0.1 s of a 0.4 s deadline"):
        return
    assert outcome.code == grpc.StatusCode.DEADLINE_EXCEEDED
    (remote,) = centers.remote.received
    assert remote.time_remaining is not None
    assert remote.time_remaining <= 0.4 - 0.1
    watch.within(0.4 + SLACK, "a failed-over read under an inherited 0.4 s deadline")
