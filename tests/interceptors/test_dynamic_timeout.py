"""The dynamic timeout cuts a slow handler, applies to streams only when asked, never extends
the caller's own timeout, and moves with the latency it observes."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from resilience.policy import Policy
from resilience.testing import EchoBehavior, ManualClock
from timing import Stopwatch

from .harness import Failure, Harness


def timeout_policy(**timeout: Any) -> Policy:
    settings = {"t_avg": 0.05, "t_hwm": 0.1, "t_max": 0.2, **timeout}
    return Policy.from_dict({"methods": {"*": {"timeout": settings}}})


def test_slow_unary_handler_is_cut_at_the_dynamic_timeout(harness: Harness) -> None:
    server = harness.server(behavior=EchoBehavior(latency=1.0))
    client = harness.client(server.address, policy=timeout_policy())

    result = client.call("unary_unary", timeout=5.0)

    assert isinstance(result, Failure)
    assert result.code is grpc.StatusCode.DEADLINE_EXCEEDED


@pytest.mark.parametrize("shape", ["unary_stream", "stream_stream"])
def test_streams_are_not_cut_unless_the_policy_says_so(harness: Harness, shape: str) -> None:
    """The handler answers 0.3 s after it starts, past the 0.2 s dynamic timeout (t_max, the
    first call's), which starts before it: the cut does not depend on the host's speed. The
    uncut stream is sent with no timeout of its own, so that only a deadline the library gave
    it could end it (a caller's 5 s could run out on a host that stalls the call that long)."""
    server = harness.server(behavior=EchoBehavior(latency=0.3))
    default = harness.client(server.address, policy=timeout_policy())
    streams = harness.client(server.address, policy=timeout_policy(streams=True))

    uncut = default.call(shape, timeout=None)
    assert not isinstance(uncut, Failure), uncut
    cut = streams.call(shape)
    assert isinstance(cut, Failure), cut
    assert cut.code is grpc.StatusCode.DEADLINE_EXCEEDED, cut


DYNAMIC = 2.0
"""The dynamic timeout a method's first call gets (its ``t_max``, s): long enough that a loaded
host rarely keeps the call from its handler until the deadline passes."""

QUIET_BOUND = 0.5
"""Seconds a call to an echo handler takes at most on a quiet host. A call whose deadline (1 s
at least) passed before its handler read a positive time is judged against it: a host that kept
this process from running that long explains it (tests/timing.py); nothing else does."""


@pytest.mark.parametrize(("caller", "bound"), [(5.0, DYNAMIC), (1.0, 1.0)])
def test_handler_deadline_is_the_least_of_dynamic_and_caller_timeout(
    harness: Harness, caller: float, bound: float
) -> None:
    remaining: list[float] = []
    behavior = EchoBehavior(on_call=lambda r, context: remaining.append(context.time_remaining()))
    server = harness.server(behavior=behavior)
    client = harness.client(server.address, policy=timeout_policy(t_max=DYNAMIC))

    with Stopwatch() as watch:
        result = client.call(timeout=caller)

    reached = bool(remaining) and remaining[0] > 0  # gRPC reads 0 once the deadline has passed
    if not reached and not watch.within(QUIET_BOUND, "a call whose handler read no time left"):
        return  # not judged: the host held the call past its deadline
    assert reached, f"the handler read {remaining} s left; the call ended with {result}"
    assert remaining[0] <= bound + 0.05  # gRPC rounds the deadline it carries


def test_timeout_moves_with_observed_latency(harness: Harness) -> None:
    clock = ManualClock(10.0)
    behavior = EchoBehavior(on_call=lambda r, c: clock.advance(0.08))  # each call "takes" 80 ms
    server = harness.server(behavior=behavior)
    client = harness.client(server.address, policy=timeout_policy(n=1), clock=clock)

    def timeout_gauge() -> float:
        readings = client.interceptor.gauge_readings()
        value: float = next(r.value for r in readings if r.name == "timeout.seconds")
        return value

    client.call()  # a first call creates the method's state
    client.call()

    # ema = 0.08 lies between t_avg 0.05 and t_hwm 0.1: 0.1 + (0.1 - 0.08) / 0.05 * 0.1
    assert timeout_gauge() == pytest.approx(0.14)
    behavior.on_call = lambda r, c: clock.advance(0.01)
    client.call()
    assert timeout_gauge() == pytest.approx(0.2)
