"""Call options as callers pass them through the client interceptor (both forms, sync and aio):
a timeout that is already spent (negative, NaN) fails the call unsent, as on a bare channel,
and never counts against the method's breaker."""

from __future__ import annotations

import math

import grpc
import pytest

from resilience._base.keys import REJECT
from resilience.policy import Policy
from resilience.testing import EchoBehavior

from .harness import Failure, Harness

pytestmark = pytest.mark.e2e

PATTERN = "/resilience.testing.Echo/*"
GUARDED = Policy.from_dict(
    {
        "methods": {
            PATTERN: {"breaker": {}, "timeout": {"t_max": 5.0}, "bulkhead": {"max_concurrent": 8}}
        }
    }
)
"""The client sections a spent timeout meets: the breaker, the dynamic timeout, a bulkhead."""


@pytest.mark.parametrize("timeout", [-1.0, -0.5, math.nan], ids=["-1", "-0.5", "nan"])
@pytest.mark.parametrize("shape", ["unary_unary", "stream_stream"])
def test_a_spent_timeout_fails_unsent_and_the_breaker_does_not_count_it(
    harness: Harness, timeout: float, shape: str
) -> None:
    """``timeout=deadline - now`` computed after the deadline passed is negative: gRPC fails
    such a call with DEADLINE_EXCEEDED before sending it. Through the client interceptor it
    must too (a bulkhead used to turn it into a timeout of 0 s, which gRPC sends and the
    server may run), and the breaker must not count the caller's own expired deadline as the
    server's failure (40 of them used to open it: the calls that followed, to a healthy
    server, were dropped)."""
    behavior = EchoBehavior()
    server = harness.server(behavior=behavior)
    client = harness.client(server.address, policy=GUARDED)
    assert client.call() == [b"ping"]  # a warm channel

    spent = [client.call(shape, timeout=timeout) for _ in range(40)]

    assert {(getattr(r, "code", None), getattr(r, "trailing", {}).get(REJECT)) for r in spent} == {
        (grpc.StatusCode.DEADLINE_EXCEEDED, "deadline")
    }
    assert behavior.calls == 1  # the warm-up only: nothing was sent
    after = [client.call(shape) for _ in range(20)]
    assert [r for r in after if isinstance(r, Failure)] == []
