"""The metrics observer records the golden signals and decisions with the right values."""

from __future__ import annotations

import threading

import grpc
import pytest

from resilience.errors import ConfigError, RejectReason
from resilience.events import CallInfo, CallOutcome, Side
from resilience.observability import MetricsObserver

from .conftest import MetricsHarness

OK = grpc.StatusCode.OK
SAY = "/echo.Echo/Say"


def test_a_scripted_sequence_gives_counts_by_code_and_durations(harness: MetricsHarness) -> None:
    observer = harness.observer
    call = CallInfo("server", SAY)
    for duration, code in [(0.01, OK), (0.02, OK), (0.3, grpc.StatusCode.INTERNAL)]:
        observer.call_started(call)
        observer.call_ended(call, CallOutcome(code, duration))

    ok = {"rpc.method": "echo.Echo/Say", "rpc.response.status_code": "OK"}
    failed = {"rpc.method": "echo.Echo/Say", "rpc.response.status_code": "INTERNAL"}
    assert harness.value("rpc.server.call.duration", ok) == 2
    assert harness.value("rpc.server.call.duration", failed) == 1
    points = {
        p.attributes["rpc.response.status_code"]: p
        for p in harness.points("rpc.server.call.duration")
    }
    assert points["OK"].sum == pytest.approx(0.03)
    assert points["INTERNAL"].attributes["error.type"] == "INTERNAL"
    assert "error.type" not in points["OK"].attributes
    assert points["OK"].attributes["rpc.system.name"] == "grpc"
    assert points["OK"].explicit_bounds[:3] == (0.005, 0.01, 0.025)


def test_calls_in_flight_rise_and_fall(harness: MetricsHarness) -> None:
    observer = harness.observer
    first, second = CallInfo("client", SAY), CallInfo("client", SAY, color="loadtest")
    observer.call_started(first)
    observer.call_started(second)
    assert harness.value("resilience.client.active_calls") == 2
    assert harness.value("resilience.client.active_calls", {"resilience.color": "loadtest"}) == 1
    observer.call_ended(first, CallOutcome(OK, 0.001))
    observer.call_ended(second, CallOutcome(OK, 0.001))
    assert harness.value("resilience.client.active_calls") == 0


def test_calls_in_flight_stay_exact_while_threads_start_end_and_collect(
    harness: MetricsHarness,
) -> None:
    """Starts and ends take no lock: counts from many threads, read by a collector meanwhile,
    are never negative and come back to zero."""
    observer = harness.observer
    calls = [CallInfo("server", SAY, color=color) for color in (None, "loadtest", "x", "y")]
    readings: list[float] = []
    go = threading.Barrier(5)

    def caller(call: CallInfo) -> None:
        go.wait()
        for _ in range(3000):
            observer.call_started(call)
            observer.call_ended(call, CallOutcome(OK, 0.001))

    threads = [threading.Thread(target=caller, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    go.wait()
    while any(thread.is_alive() for thread in threads):
        readings.append(
            min((p.value for p in harness.points("resilience.server.active_calls")), default=0)
        )
    for thread in threads:
        thread.join()

    assert min(readings, default=0) >= 0
    assert harness.value("resilience.server.active_calls") == 0
    assert harness.value("rpc.server.call.duration") == 4 * 3000


def test_client_counts_every_non_ok_code_as_an_error_and_server_only_its_faults(
    harness: MetricsHarness,
) -> None:
    exhausted = CallOutcome(grpc.StatusCode.RESOURCE_EXHAUSTED, 0.001)
    sides: tuple[Side, ...] = ("client", "server")
    for side in sides:
        call = CallInfo(side, SAY)
        harness.observer.call_started(call)
        harness.observer.call_ended(call, exhausted)
    (client,) = harness.points("rpc.client.call.duration")
    (server,) = harness.points("rpc.server.call.duration")
    assert client.attributes["error.type"] == "RESOURCE_EXHAUSTED"
    assert "error.type" not in server.attributes


def test_rejections_are_counted_by_reason_and_tier(harness: MetricsHarness) -> None:
    observer = harness.observer
    shed = CallOutcome(grpc.StatusCode.RESOURCE_EXHAUSTED, 0.0, reject_reason=RejectReason.SHED)
    for tier in (3, 3, 4):
        call = CallInfo("server", SAY, tier=tier)
        observer.call_started(call)
        observer.call_ended(call, shed)
    dropped = CallInfo("client", SAY)
    observer.call_started(dropped)
    observer.call_ended(dropped, CallOutcome(grpc.StatusCode.UNAVAILABLE, 0.0, "breaker"))
    observer.call_ended(dropped, CallOutcome(grpc.StatusCode.UNAVAILABLE, 0.0, "made-up"))

    name = "resilience.rejections"
    assert harness.value(name, {"resilience.reject_reason": "shed", "resilience.tier": "3"}) == 2
    assert harness.value(name, {"resilience.reject_reason": "shed", "resilience.tier": "4"}) == 1
    breaker = {"resilience.reject_reason": "breaker", "resilience.side": "client"}
    assert harness.value(name, breaker) == 1
    assert harness.value(name, {"resilience.reject_reason": "other"}) == 1
    assert harness.value(name, {"resilience.tier": "none"}) == 2


def test_decision_events_are_counted_with_their_attributes(harness: MetricsHarness) -> None:
    harness.observer.event("failover.attempted", {"target": "remote"})
    harness.observer.event("failover.attempted", {"target": "remote"})
    harness.observer.event("limiter.fallback", {})
    name = "resilience.decisions"
    attempted = {"resilience.decision": "failover.attempted", "resilience.target": "remote"}
    assert harness.value(name, attempted) == 2
    assert harness.value(name, {"resilience.decision": "limiter.fallback"}) == 1


def test_without_an_sdk_provider_the_observer_records_nothing_and_does_not_fail() -> None:
    from opentelemetry.metrics import NoOpMeterProvider

    observer = MetricsObserver(meter_provider=NoOpMeterProvider())
    call = CallInfo("server", SAY, color="loadtest", tier=1)
    observer.call_started(call)
    observer.call_ended(call, CallOutcome(OK, 0.01, reject_reason="shed"))
    observer.event("failover.attempted", {"target": "remote"})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_methods": 0}, "max_methods must be an integer >= 1"),
        ({"colors": "loadtest"}, "colors must be a collection"),
        ({"colors": ["other"]}, "colors: each color"),
    ],
)
def test_bad_options_name_the_parameter(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MetricsObserver(**options)  # type: ignore[arg-type]
