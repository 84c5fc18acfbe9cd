"""No ping-pong: a failover carries the mark, a marked call (or one made while handling a
failed-over call) never fails over again, and a call makes at most one extra attempt."""

from __future__ import annotations

import grpc

from resilience.algorithms import AdaptiveRetryWindow
from resilience.context import CallContext, use_call_context
from resilience.testing import ManualClock

from .conftest import OK, READS, Centers, Client, ClientFactory


def _client(centers: Centers, make_client: ClientFactory) -> Client:
    window = AdaptiveRetryWindow(initial=100, clock=ManualClock())
    return make_client(centers.local_address, centers.remote_address, policy=READS, window=window)


def test_the_failover_carries_the_mark(centers: Centers, make_client: ClientFactory) -> None:
    centers.local.fail_every = 1
    assert _client(centers, make_client).read(b"x", metadata=(("k", "v"),)).code == OK
    assert [r.marked for r in centers.local.received] == [False]
    assert [r.marked for r in centers.remote.received] == [True]


def test_a_marked_call_is_not_failed_over_again(
    centers: Centers, make_client: ClientFactory
) -> None:
    centers.local.fail_every = 1
    client = _client(centers, make_client)
    marked = (("x-resilience-failover", "1"),)
    assert client.read(b"x", metadata=marked).code == grpc.StatusCode.UNAVAILABLE
    with use_call_context(CallContext(failover=True)):
        assert client.read(b"y").code == grpc.StatusCode.UNAVAILABLE
    assert centers.remote.received == []
    assert client.channel.stats().attempted == 0


def test_at_most_one_extra_attempt_when_both_centers_fail(
    centers: Centers, make_client: ClientFactory
) -> None:
    centers.local.fail_every = centers.remote.fail_every = 1
    client = _client(centers, make_client)
    outcomes = [client.read(b"%d" % index) for index in range(20)]
    assert {outcome.code for outcome in outcomes} == {grpc.StatusCode.UNAVAILABLE}
    assert len(centers.local.received) == len(centers.remote.received) == 20
    assert client.channel.stats().failed == 20
