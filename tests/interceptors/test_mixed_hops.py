"""Three hops mixing sync and grpc.aio in one process, protected both ways (``protect`` and
interceptors): an aio client -> a sync server whose handler calls on with a sync client -> an
aio server, and the mirror image (sync -> aio -> sync). With no deadline set by the caller
no hop has one and none fails; with one, each hop has at most its caller's time left; the
trace id and the color reach the last hop."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from resilience.context import current_color, traffic_color
from resilience.testing import EchoBehavior

from .harness import AioHarness, Harness

pytestmark = pytest.mark.e2e

SLACK = 0.05
"""Seconds of rounding in gRPC's timeout header and clock reads."""


@dataclass
class Hop:
    trace_id: int
    color: str | None
    remaining: float | None


@pytest.fixture(params=["aio-sync-aio", "sync-aio-sync"])
def flavours(request: pytest.FixtureRequest) -> Iterator[tuple[Harness, Harness]]:
    """(the harness of the first and last hops, the harness of the middle hop)."""
    outer, middle = (
        (AioHarness(), Harness())
        if request.param.startswith("aio")
        else (
            Harness(),
            AioHarness(),
        )
    )
    try:
        yield outer, middle
    finally:
        middle.close()
        outer.close()


@pytest.mark.parametrize("protected", [True, False], ids=["protected", "interceptors"])
@pytest.mark.parametrize("deadline", [None, 3.0], ids=["no-deadline", "deadline"])
def test_three_mixed_hops_carry_trace_color_and_deadline(
    flavours: tuple[Harness, Harness], protected: bool, deadline: float | None
) -> None:
    outer, middle = flavours
    outer.protected = middle.protected = protected
    hops: list[Hop] = []

    def record(then: Callable[[bytes, Any], Any] | None) -> Callable[[bytes, Any], Any]:
        def on_call(request: bytes, context: Any) -> Any:
            span = trace.get_current_span().get_span_context()
            left = context.time_remaining()  # a sync server's without deadline: about 9e18
            hops.append(
                Hop(span.trace_id, current_color(), None if left is None or left > 1e9 else left)
            )
            return None if then is None else then(request, context)

        return on_call

    last = outer.server(behavior=EchoBehavior(on_call=record(None)))
    onward = middle.forward(middle.client(last.address))
    second = middle.server(behavior=EchoBehavior(on_call=record(onward)))
    client = outer.client(second.address)
    tracer = TracerProvider().get_tracer("test")

    with tracer.start_as_current_span("root") as root, traffic_color("loadtest"):
        assert client.call(timeout=deadline) == [b"ping"]

    trace_id = root.get_span_context().trace_id
    assert [(hop.trace_id, hop.color) for hop in hops] == [(trace_id, "loadtest")] * 2
    b, c = (hop.remaining for hop in hops)
    if deadline is None:
        assert (b, c) == (None, None)
    else:
        assert b is not None
        assert c is not None
        assert 0 < c <= b + SLACK
        assert b <= deadline + SLACK
