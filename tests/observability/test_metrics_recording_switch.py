"""The metrics observer skips its recording work while no meter provider records, and its
count of calls in flight stays exact across the moment a provider starts recording."""

from __future__ import annotations

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


def test_without_a_recording_provider_nothing_is_kept_per_call() -> None:
    observer = MetricsObserver(meter_provider=NoOpMeterProvider())
    for color in ("a", "b", "c"):
        call = CallInfo("client", SAY, color=color)
        observer.call_started(call)
        observer.call_ended(call, CallOutcome(OK, 0.01, reject_reason="breaker"))
    assert observer._in_flight == {}
    assert observer._ended == {}


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
