"""Attribute values stay bounded whatever colors and method names the network sends."""

from __future__ import annotations

import grpc
from hypothesis import given
from hypothesis import strategies as st

from resilience.events import CallInfo, CallOutcome
from resilience.observability import AttributeBounds

from .conftest import MetricsHarness


def test_unknown_colors_collapse_to_other(harness: MetricsHarness) -> None:
    for i in range(500):
        call = CallInfo("server", "/echo.Echo/Say", color=f"tenant-{i}")
        harness.observer.call_started(call)
        harness.observer.call_ended(call, CallOutcome(grpc.StatusCode.OK, 0.001))
    for color in ("loadtest", "shadow", None):
        call = CallInfo("server", "/echo.Echo/Say", color=color)
        harness.observer.call_ended(call, CallOutcome(grpc.StatusCode.OK, 0.001))

    points = harness.points("rpc.server.call.duration")
    colors = {point.attributes["resilience.color"]: point.count for point in points}
    assert colors == {"other": 500, "loadtest": 1, "shadow": 1, "none": 1}


def test_methods_beyond_the_bound_collapse_to_other() -> None:
    harness = MetricsHarness(max_methods=3)
    for i in range(50):
        call = CallInfo("client", f"/svc.S/M{i}")
        harness.observer.call_ended(call, CallOutcome(grpc.StatusCode.OK, 0.001))
    methods = {p.attributes["rpc.method"] for p in harness.points("rpc.client.call.duration")}
    assert methods == {"svc.S/M0", "svc.S/M1", "svc.S/M2", "_OTHER"}
    harness.provider.shutdown()


def test_a_configured_color_is_kept() -> None:
    harness = MetricsHarness(colors={"canary"})
    for color in ("canary", "loadtest"):
        harness.observer.call_ended(
            CallInfo("server", "/a.B/C", color=color), CallOutcome(grpc.StatusCode.OK, 0.0)
        )
    colors = {p.attributes["resilience.color"] for p in harness.points("rpc.server.call.duration")}
    assert colors == {"canary", "other"}
    harness.provider.shutdown()


@given(st.lists(st.one_of(st.none(), st.text(max_size=20)), max_size=60))
def test_any_color_maps_into_a_fixed_set(colors: list[str | None]) -> None:
    bounds = AttributeBounds()
    assert {bounds.color(color) for color in colors} <= {"loadtest", "shadow", "none", "other"}


@given(st.lists(st.text(min_size=1, max_size=30), max_size=100), st.integers(1, 10))
def test_distinct_method_values_never_exceed_the_bound_plus_other(
    methods: list[str], bound: int
) -> None:
    bounds = AttributeBounds(max_methods=bound)
    assert len({bounds.method(method) for method in methods}) <= bound + 1
