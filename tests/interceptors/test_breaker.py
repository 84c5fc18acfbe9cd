"""The client's breaker drops calls to a failing servicer locally and recovers with it."""

from __future__ import annotations

import grpc
import pytest

from resilience._base.keys import REJECT
from resilience.policy import Policy
from resilience.testing import EchoBehavior, ManualClock

from .harness import SHAPES, Failure, Harness

BREAKER = Policy.from_dict({"methods": {"*": {"breaker": {"min_requests": 5, "window": 10.0}}}})
DROP_DETAILS = "resilience: rejected by breaker"


def is_drop(result: object) -> bool:
    return isinstance(result, Failure) and result.details == DROP_DETAILS


@pytest.mark.parametrize("shape", SHAPES)
def test_failing_servicer_trips_local_drops_that_never_reach_it(
    harness: Harness, shape: str
) -> None:
    behavior = EchoBehavior(fail_rate=1.0)
    server = harness.server(behavior=behavior)
    client = harness.client(server.address, policy=BREAKER, clock=ManualClock(100.0))

    results = [client.call(shape) for _ in range(40)]

    drops = [result for result in results if is_drop(result)]
    assert len(drops) >= 10
    assert behavior.calls == 40 - len(drops)
    drop = drops[0]
    assert isinstance(drop, Failure)
    assert drop.code is grpc.StatusCode.UNAVAILABLE
    assert drop.trailing[REJECT] == "breaker"


def test_breaker_recovers_once_the_servicer_does(harness: Harness) -> None:
    behavior = EchoBehavior(fail_rate=1.0)
    clock = ManualClock(100.0)
    server = harness.server(behavior=behavior)
    client = harness.client(server.address, policy=BREAKER, clock=clock)
    for _ in range(30):
        client.call()
    assert client.interceptor.gauge_readings()[0].value > 0  # drop probability

    behavior.fail_rate = 0.0
    clock.advance(11.0)  # the failures leave the breaker's window
    results = [client.call() for _ in range(30)]

    assert results == [[b"ping"]] * 30
    readings = {reading.name: reading.value for reading in client.interceptor.gauge_readings()}
    assert readings == {"breaker.drop_probability": 0.0, "breaker.state": 0.0}


def test_breaker_counts_only_the_configured_failure_codes(harness: Harness) -> None:
    behavior = EchoBehavior(fail_rate=1.0, fail_code=grpc.StatusCode.NOT_FOUND)
    server = harness.server(behavior=behavior)
    client = harness.client(server.address, policy=BREAKER, clock=ManualClock(100.0))

    results = [client.call() for _ in range(30)]

    assert not any(is_drop(result) for result in results)
    assert behavior.calls == 30


def test_breaker_off_never_drops(harness: Harness) -> None:
    policy = Policy.from_dict({"methods": {"*": {"breaker": False}}})
    behavior = EchoBehavior(fail_rate=1.0)
    server = harness.server(behavior=behavior)
    client = harness.client(server.address, policy=policy, clock=ManualClock(100.0))

    results = [client.call() for _ in range(30)]

    assert not any(is_drop(result) for result in results)
    assert client.interceptor.gauge_readings() == []
