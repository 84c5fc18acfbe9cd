"""Writes never fail over: zero writes reach the remote center, none is duplicated, whatever
happens locally (and a read-only remote is never asked to write)."""

from __future__ import annotations

import grpc
import pytest

from resilience.algorithms import AdaptiveRetryWindow
from resilience.testing import ManualClock

from .conftest import OK, READS, Centers, ClientFactory


@pytest.mark.parametrize(
    ("fail_every", "fail_code"),
    [
        (0, grpc.StatusCode.UNAVAILABLE),
        (20, grpc.StatusCode.UNAVAILABLE),
        (1, grpc.StatusCode.UNAVAILABLE),
        (3, grpc.StatusCode.DEADLINE_EXCEEDED),
        (2, grpc.StatusCode.INTERNAL),
        (2, grpc.StatusCode.RESOURCE_EXHAUSTED),
    ],
)
def test_no_write_reaches_the_remote_center_or_repeats(
    centers: Centers, make_client: ClientFactory, fail_every: int, fail_code: grpc.StatusCode
) -> None:
    centers.local.fail_every, centers.local.fail_code = fail_every, fail_code
    window = AdaptiveRetryWindow(initial=1000, clock=ManualClock())  # room for any failover
    client = make_client(centers.local_address, centers.remote_address, policy=READS, window=window)
    outcomes = [client.write(b"w%d" % index) for index in range(200)]

    assert centers.remote.received == []
    written = [received.request for received in centers.local.received]
    assert sorted(written) == sorted(b"w%d" % index for index in range(200))  # once each
    failed = sum(outcome.code != OK for outcome in outcomes)
    assert failed == (200 // fail_every if fail_every else 0)
    assert client.channel.stats().attempted == 0


def test_unmarked_methods_and_a_missing_policy_never_fail_over(
    centers: Centers, make_client: ClientFactory
) -> None:
    centers.local.fail_every = 1
    window = AdaptiveRetryWindow(initial=1000, clock=ManualClock())
    client = make_client(centers.local_address, centers.remote_address, window=window)
    assert client.read(b"r").code == grpc.StatusCode.UNAVAILABLE  # no policy: nothing is a read
    assert centers.remote.received == []
