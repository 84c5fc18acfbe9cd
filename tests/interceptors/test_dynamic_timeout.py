"""The dynamic timeout cuts a slow handler, applies to streams only when asked, never extends
the caller's own timeout, and moves with the latency it observes."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from resilience.policy import Policy
from resilience.testing import EchoBehavior, ManualClock

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
    server = harness.server(behavior=EchoBehavior(latency=0.3))
    default = harness.client(server.address, policy=timeout_policy())
    streams = harness.client(server.address, policy=timeout_policy(streams=True))

    assert not isinstance(default.call(shape), Failure)
    cut = streams.call(shape)
    assert isinstance(cut, Failure)
    assert cut.code is grpc.StatusCode.DEADLINE_EXCEEDED


@pytest.mark.parametrize(("caller", "bound"), [(5.0, 0.2), (0.1, 0.1)])
def test_handler_deadline_is_the_least_of_dynamic_and_caller_timeout(
    harness: Harness, caller: float, bound: float
) -> None:
    remaining: list[float] = []
    behavior = EchoBehavior(on_call=lambda r, context: remaining.append(context.time_remaining()))
    server = harness.server(behavior=behavior)
    client = harness.client(server.address, policy=timeout_policy())

    client.call(timeout=caller)

    assert 0 < remaining[0] <= bound + 0.05  # gRPC rounds the deadline it carries


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
