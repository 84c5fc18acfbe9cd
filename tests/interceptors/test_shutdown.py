"""Shutting down with calls in flight, sync and aio, interceptor and ``protect()`` forms: a
server stopped with a grace (``server.stop(grace)``) and a channel closed by its owner
(``channel.close()``) while a call of each of the four shapes is under way: three running,
the fourth waiting in the client's bulkhead queue. Every call ends once on each side, the
bulkheads on both sides and the server's overload guard hold nothing again, the client's
breaker does not count its own channel's close against the callee (it does count the server
going away), the call that waited in the queue ends as the others do (a sync one: CANCELLED
``Channel closed!``, not the ValueError of a call made on a closed channel), and the library
logs no warning."""

from __future__ import annotations

import logging
from concurrent.futures import CancelledError, ThreadPoolExecutor
from typing import Any

import grpc
import pytest

from resilience.policy import Policy
from resilience.testing import ECHO_METHODS

from .harness import Gate, Harness, Recorder
from .test_bulkhead import wait_until

pytestmark = pytest.mark.e2e

POLICY = Policy.from_dict(
    {
        "methods": {
            "/resilience.testing.Echo/*": {
                "bulkhead": {"max_concurrent": 3, "max_queue": 4, "max_wait": 30},
                "overload": {},
                "breaker": {"min_requests": 0},
            }
        }
    }
)
"""A bulkhead on both sides (three calls at once, the fourth waits), the server's overload
guard, and a breaker that drops from the first failure on."""


def readings(interceptor: Any, prefix: str) -> list[float]:
    return [float(r.value) for r in interceptor.gauge_readings() if r.name.startswith(prefix)]


def outcome(call: Any) -> Any:
    """A call's result, a Failure, or ``"cancelled"`` (an aio call ended by its channel's
    close raises asyncio's CancelledError in its awaiter)."""
    try:
        return call.result(30)
    except CancelledError:
        return "cancelled"


@pytest.mark.parametrize("how", ["channel.close", "server.stop"])
def test_calls_in_flight_end_once_and_release_everything(
    harness: Harness, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    gate, server_seen, client_seen = Gate(), Recorder(), Recorder()
    server = harness.server(
        behavior=gate.behavior(harness.aio), policy=POLICY, observers=[server_seen]
    )
    client = harness.client(server.address, policy=POLICY, observers=[client_seen])
    caplog.set_level(logging.WARNING, logger="resilience")
    with ThreadPoolExecutor(len(ECHO_METHODS)) as pool:
        calls = [pool.submit(client.call, shape, timeout=30) for shape in ECHO_METHODS]
        assert wait_until(lambda: gate.entered == 3)
        assert wait_until(lambda: readings(client.interceptor, "bulkhead.queued").count(1) == 4)
        if how == "server.stop":
            server.stop(0.2)
        elif harness.aio:
            harness.run(client.channel.close())  # type: ignore[attr-defined]
        else:
            client.channel.close()
        ended = [outcome(call) for call in calls]
    gate.open()
    if how == "server.stop":  # the queued call is sent to a stopped server
        assert {e.code for e in ended} == {grpc.StatusCode.UNAVAILABLE}, ended
        expected = grpc.StatusCode.UNAVAILABLE
    elif harness.aio:
        assert ended == ["cancelled"] * 4
        expected = grpc.StatusCode.CANCELLED
    else:
        assert [(e.code, e.details) for e in ended] == [
            (grpc.StatusCode.CANCELLED, "Channel closed!")
        ] * 4, ended
        expected = grpc.StatusCode.CANCELLED
    assert [o.code for _, o in client_seen.wait_ended(4)] == [expected] * 4
    assert [o.code for _, o in server_seen.wait_ended(3)] == [grpc.StatusCode.CANCELLED] * 3
    assert (len(client_seen.started), len(server_seen.started)) == (4, 3)  # in flight: 0
    assert wait_until(lambda: set(readings(server.interceptor, "bulkhead.")) == {0.0})
    assert set(readings(server.interceptor, "overload.inflight")) == {0.0}
    assert set(readings(client.interceptor, "bulkhead.")) == {0.0}
    drop = max(readings(client.interceptor, "breaker.drop_probability"))
    assert (drop > 0) is (how == "server.stop")  # the callee went away; the caller closed
    assert [r.getMessage() for r in caplog.records if r.name.startswith("resilience")] == []
