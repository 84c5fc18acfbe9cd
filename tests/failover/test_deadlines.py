"""A failover never outlives the caller's deadline: the remote attempt gets the time left, and
with none left the local error is returned without spending the window."""

from __future__ import annotations

import time

import grpc

from resilience.algorithms import AdaptiveRetryWindow
from resilience.context import CallContext, use_call_context
from resilience.testing import ManualClock

from .conftest import READS, Centers, Client, ClientFactory

SLACK = 0.2
"""Seconds of scheduling slack allowed past a deadline on a loaded 2-core machine."""


def _client(centers: Centers, make_client: ClientFactory) -> Client:
    window = AdaptiveRetryWindow(initial=100, clock=ManualClock())
    return make_client(centers.local_address, centers.remote_address, policy=READS, window=window)


def test_the_remote_attempt_gets_only_the_time_left(
    centers: Centers, make_client: ClientFactory
) -> None:
    centers.local.fail_every, centers.local.delay = 1, 0.15
    centers.remote.delay = 2.0
    client = _client(centers, make_client)
    start = time.monotonic()
    outcome = client.read(b"x", timeout=0.5)
    elapsed = time.monotonic() - start
    assert outcome.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert elapsed < 0.5 + SLACK
    (remote,) = centers.remote.received
    assert remote.time_remaining is not None
    assert remote.time_remaining <= 0.5 - 0.15
    assert client.channel.stats().admitted == 1


def test_no_time_left_returns_the_local_error_without_failing_over(
    centers: Centers, make_client: ClientFactory
) -> None:
    centers.local.delay = 1.0
    client = _client(centers, make_client)
    start = time.monotonic()
    outcome = client.read(b"x", timeout=0.2)
    assert outcome.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - start < 0.2 + SLACK
    assert centers.remote.received == []
    stats = client.channel.stats()
    assert (stats.attempted, stats.expired, stats.admitted) == (1, 1, 0)


def test_an_inherited_deadline_bounds_the_failover(
    centers: Centers, make_client: ClientFactory
) -> None:
    centers.local.fail_every, centers.local.delay = 1, 0.1
    centers.remote.delay = 2.0
    client = _client(centers, make_client)
    start = time.monotonic()
    with use_call_context(CallContext(deadline=start + 0.4)):
        outcome = client.read(b"x")  # no timeout of its own
    assert outcome.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - start < 0.4 + SLACK
    (remote,) = centers.remote.received
    assert remote.time_remaining is not None
    assert remote.time_remaining <= 0.4 - 0.1
