"""A -> B -> C: one trace id and one color across three hops, and each hop's deadline is at
most the time its caller had left."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from resilience.context import current_color, current_tier
from resilience.testing import EchoBehavior

from .harness import Harness

SLACK = 0.05
"""Seconds of rounding in gRPC's timeout header (units up to 8 digits) and clock reads."""


@dataclass
class Hop:
    trace_id: int
    color: str | None
    tier: int | None
    remaining: float


def chain(harness: Harness) -> tuple[Any, list[Hop]]:
    """Start C, B, A (each calling the next from its handler); return a client of A."""
    hops: list[Hop] = []

    def record(then: Callable[[bytes, Any], Any] | None) -> Callable[[bytes, Any], Any]:
        def on_call(request: bytes, context: Any) -> Any:
            span = trace.get_current_span().get_span_context()
            hops.append(
                Hop(span.trace_id, current_color(), current_tier(), context.time_remaining())
            )
            return None if then is None else then(request, context)

        return on_call

    c = harness.server(behavior=EchoBehavior(on_call=record(None)))
    b = harness.server(
        behavior=EchoBehavior(on_call=record(harness.forward(harness.client(c.address))))
    )
    a = harness.server(
        behavior=EchoBehavior(on_call=record(harness.forward(harness.client(b.address))))
    )
    return harness.client(a.address), hops


def test_trace_id_and_color_are_kept_over_three_hops(harness: Harness) -> None:
    from resilience.context import traffic_color

    client, hops = chain(harness)
    tracer = TracerProvider().get_tracer("test")

    with tracer.start_as_current_span("root") as root, traffic_color("loadtest"):
        assert client.call() == [b"ping"]

    trace_id = root.get_span_context().trace_id
    assert [(hop.trace_id, hop.color) for hop in hops] == [(trace_id, "loadtest")] * 3


def test_each_hop_has_at_most_its_callers_remaining_time(harness: Harness) -> None:
    client, hops = chain(harness)

    assert client.call(timeout=3.0) == [b"ping"]

    # Without inheritance B and C would have no deadline at all (their callers set none).
    # gRPC carries a deadline as a rounded timeout header, so compare with a little slack.
    a, b, c = (hop.remaining for hop in hops)
    assert 0 < c <= b + SLACK
    assert b <= a + SLACK
    assert a <= 3.0 + SLACK


def test_without_trace_or_color_hops_carry_the_tier_only(harness: Harness) -> None:
    client, hops = chain(harness)

    assert client.call() == [b"ping"]

    assert [(hop.trace_id, hop.color, hop.tier) for hop in hops] == [(0, None, 2)] * 3


def test_a_hop_that_clears_the_color_sends_none_onward(harness: Harness) -> None:
    from resilience.context import traffic_color

    hops: list[str | None] = []

    def seen(request: bytes, context: Any) -> None:
        hops.append(current_color())

    b = harness.server(behavior=EchoBehavior(on_call=seen))
    a = harness.server(
        behavior=EchoBehavior(
            on_call=harness.forward(harness.client(b.address), within=lambda: traffic_color(None))
        )
    )
    with traffic_color("loadtest"):
        assert harness.client(a.address).call() == [b"ping"]

    assert hops == [None]  # the caller's color stayed with A's own call
