"""An observer hears only what its declared interest includes (side, starts, ends), on the
interceptors and the protected channel and server alike; one that declares nothing hears
everything."""

from __future__ import annotations

import grpc
import pytest

from resilience.events import CallInfo, Interest
from resilience.interceptors import ClientInterceptor, ServerInterceptor
from resilience.policy import Policy
from resilience.testing import ECHO_METHODS, EchoBehavior, ManualClock

from .harness import Harness, Recorder

UNARY = ECHO_METHODS["unary_unary"]


class ServerEnds(Recorder):
    interest = Interest(sides=("server",), starts=False, events=False)


class ClientStarts(Recorder):
    interest = Interest(sides=("client",), ends=False)


class ClientEnds(Recorder):
    interest = Interest(sides=["client"], starts=False)


def test_each_observer_hears_only_its_sides_and_reports(harness: Harness) -> None:
    server_ends, client_starts, everything = ServerEnds(), ClientStarts(), Recorder()
    observers = [server_ends, client_starts, everything]
    server = harness.server(observers=observers)
    client = harness.client(server.address, observers=observers)

    client.call()
    everything.wait_ended(2)

    client_info = CallInfo("client", UNARY, None, 2)
    server_info = CallInfo("server", UNARY, None, 2)
    assert (server_ends.started, [info for info, _ in server_ends.ended]) == ([], [server_info])
    assert (client_starts.started, client_starts.ended) == ([client_info], [])
    assert sorted(info.side for info in everything.started) == ["client", "server"]
    assert sorted(info.side for info, _ in everything.ended) == ["client", "server"]


def test_a_local_rejection_reaches_only_those_that_hear_ends(harness: Harness) -> None:
    client_ends, client_starts, server_ends = ClientEnds(), ClientStarts(), ServerEnds()
    breaker = Policy.from_dict({"methods": {"*": {"breaker": {"min_requests": 1, "k": 1.0}}}})
    server = harness.server(behavior=EchoBehavior(fail_rate=1.0))
    client = harness.client(
        server.address,
        policy=breaker,
        clock=ManualClock(5.0),
        observers=[client_ends, client_starts, server_ends],
    )

    for _ in range(30):
        client.call()

    reasons = {outcome.reject_reason for _, outcome in client_ends.ended}
    assert "breaker" in reasons  # some calls were dropped locally, and were reported
    assert client_ends.started == []
    assert client_starts.ended == []
    assert len(client_starts.started) == 30  # rejected calls are heard of at their start too
    assert server_ends.started == []  # a client pipeline: no server reports
    assert server_ends.ended == []


class NotAnInterest(Recorder):
    interest = "server"


@pytest.mark.parametrize("make", [ClientInterceptor, ServerInterceptor])
def test_a_malformed_interest_is_refused_when_the_stack_is_built(make: type) -> None:
    with pytest.raises(TypeError, match=r"interest must be a resilience\.events\.Interest"):
        make(observers=[NotAnInterest()])


def test_status_codes_still_reach_the_observers_that_hear_ends(harness: Harness) -> None:
    server_ends = ServerEnds()
    behavior = EchoBehavior(fail_rate=1.0, fail_code=grpc.StatusCode.NOT_FOUND)
    server = harness.server(behavior=behavior, observers=[server_ends])
    client = harness.client(server.address)

    client.call()

    assert [outcome.code for _, outcome in server_ends.wait_ended(1)] == [grpc.StatusCode.NOT_FOUND]
