"""The metrics observer skips its recording work while no meter provider records, and its
count of calls in flight stays exact across the moment a provider starts recording."""

from __future__ import annotations

import tracemalloc

import grpc
from opentelemetry.metrics import NoOpMeterProvider

from resilience.events import CallInfo, CallOutcome
from resilience.observability import MetricsObserver

from .conftest import MetricsHarness

OK = grpc.StatusCode.OK
SAY = "/echo.Echo/Say"


def test_a_call_spanning_the_switch_to_recording_leaves_nothing_in_flight() -> None:
    harness = MetricsHarness()
    observer = harness.observer
    observer._live = False  # as before an SDK provider is installed
    before = CallInfo("server", SAY, color="loadtest")
    observer.call_started(before)
    observer._live = True  # the provider is now recording
    during = CallInfo("server", SAY)
    observer.call_started(during)
    assert harness.value("resilience.server.active_calls") == 2

    observer.call_ended(before, CallOutcome(OK, 0.01))
    observer.call_ended(during, CallOutcome(OK, 0.02))

    assert harness.value("resilience.server.active_calls") == 0
    assert harness.value("rpc.server.call.duration") == 2


def test_calls_made_while_not_recording_leave_no_series_but_their_in_flight_count() -> None:
    harness = MetricsHarness()
    observer = harness.observer
    observer._live = False  # as before an SDK provider is installed
    for color in ("a", "b", "loadtest"):
        call = CallInfo("client", SAY, color=color)
        observer.call_started(call)
        observer.call_ended(call, CallOutcome(OK, 0.01, reject_reason="breaker"))
    held = CallInfo("client", SAY)
    observer.call_started(held)
    observer._live = True  # the provider is now recording

    assert harness.points("rpc.client.call.duration") == []
    assert harness.points("resilience.rejections") == []
    assert harness.value("resilience.client.active_calls") == 1
    observer.call_ended(held, CallOutcome(OK, 0.01))
    assert harness.value("resilience.client.active_calls") == 0
    assert harness.value("rpc.client.call.duration") == 1


def test_memory_stays_bounded_under_endless_raw_colors() -> None:
    """Colors come from the network: past a bound, new raw colors keep nothing per call."""
    observer = MetricsObserver(meter_provider=NoOpMeterProvider())

    def calls(first: int) -> None:
        for index in range(first, first + 6000):
            call = CallInfo("client", SAY, color=f"c{index}")
            observer.call_started(call)
            observer.call_ended(call, CallOutcome(OK, 0.01))

    calls(0)  # fills whatever the observer remembers per raw color
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        calls(6000)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert grown < 20_000, f"{grown} bytes kept for 6,000 calls of new colors"


def test_many_raw_colors_collapse_into_bounded_series() -> None:
    harness = MetricsHarness(colors=["loadtest"])
    calls = [CallInfo("client", SAY, color=f"c{index}") for index in range(50)]
    for call in calls:
        harness.observer.call_started(call)
    assert harness.value("resilience.client.active_calls", {"resilience.color": "other"}) == 50
    for call in calls:
        harness.observer.call_ended(call, CallOutcome(OK, 0.01))
    points = harness.points("rpc.client.call.duration")
    assert [p.attributes["resilience.color"] for p in points] == ["other"]
    assert harness.value("resilience.client.active_calls", {"resilience.color": "other"}) == 0
