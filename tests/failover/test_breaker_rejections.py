"""A local breaker drop (the client interceptor's UNAVAILABLE with ``x-resilience-reject:
breaker``) fails over even when UNAVAILABLE is not a configured failover code."""

from __future__ import annotations

import grpc

from resilience.algorithms import AdaptiveRetryWindow
from resilience.policy import Policy
from resilience.testing import ManualClock

from .conftest import OK, READS, Centers, ClientFactory

BREAKER = Policy.from_dict(
    {"methods": {"*": {"breaker": {"min_requests": 5, "window": 100.0, "buckets": 10}}}}
)


def test_breaker_drops_fail_over_and_plain_failures_do_not(
    centers: Centers, make_client: ClientFactory
) -> None:
    centers.local.fail_every = 1
    client = make_client(
        centers.local_address,
        centers.remote_address,
        policy=READS,
        local_policy=BREAKER,
        window=AdaptiveRetryWindow(initial=1000, clock=ManualClock()),
        failover_codes={grpc.StatusCode.INTERNAL},
    )
    outcomes = [client.read(b"%d" % index) for index in range(60)]
    dropped = 60 - len(centers.local.received)
    assert dropped > 20  # the breaker opened after 5 failures
    assert sum(outcome.code == OK for outcome in outcomes) == dropped
    assert len(centers.remote.received) == dropped
    assert client.channel.stats().admitted == dropped
