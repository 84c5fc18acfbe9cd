"""Gauge sources are polled at collection time and exported under their metric names."""

from __future__ import annotations

import gc
from collections.abc import Iterable

import grpc

from resilience.events import CallInfo, CallOutcome, GaugeReading, GaugeRegistry
from resilience.observability._bounds import DEFAULT_MAX_METHODS

from .conftest import MetricsHarness


class Source:
    def __init__(self, *readings: GaugeReading) -> None:
        self.readings = list(readings)

    def gauge_readings(self) -> Iterable[GaugeReading]:
        return self.readings


class Broken:
    def gauge_readings(self) -> Iterable[GaugeReading]:
        raise RuntimeError("bug in a source")


OK = grpc.StatusCode.OK


def reading(name: str, value: float, **attributes: str) -> GaugeReading:
    return GaugeReading(name, value, attributes)


def test_each_known_reading_becomes_its_metric(harness: MetricsHarness) -> None:
    source = Source(
        reading("breaker.drop_probability", 0.4, method="/a.B/C", side="client"),
        reading("breaker.state", 1, method="/a.B/C", side="client"),
        reading("timeout.seconds", 0.25, method="/a.B/C", side="client"),
        reading("failover.window", 7, target="remote"),
        reading("failover.attempted", 12, target="remote"),
        reading("failover.refused", 2, target="remote"),
        reading("limiter.fallback", 1, limit="checkout"),
    )
    harness.gauges.register(source)
    method = {"rpc.system.name": "grpc", "rpc.method": "a.B/C", "resilience.side": "client"}
    assert harness.value("resilience.breaker.drop_probability", method) == 0.4
    assert harness.value("resilience.breaker.state", method) == 1
    assert harness.value("resilience.timeout", method) == 0.25
    assert harness.value("resilience.failover.window", {"resilience.target": "remote"}) == 7
    outcome = "resilience.failover.outcome"
    assert harness.value("resilience.failovers", {outcome: "attempted"}) == 12
    assert (
        harness.value("resilience.failovers", {outcome: "refused", "resilience.target": "remote"})
        == 2
    )
    assert harness.value("resilience.limiter.fallback", {"resilience.limit": "checkout"}) == 1
    assert harness.value("resilience.state") == 0

    source.readings = [reading("breaker.drop_probability", 0.0, method="/a.B/C")]
    assert harness.value("resilience.breaker.drop_probability", {"rpc.method": "a.B/C"}) == 0.0


def test_unknown_readings_go_to_the_catch_all_gauge(harness: MetricsHarness) -> None:
    source = Source(reading("queue.depth", 3, queue="q"))  # held: the registry holds it weakly
    harness.gauges.register(source)
    assert (
        harness.value(
            "resilience.state", {"resilience.gauge": "queue.depth", "resilience.queue": "q"}
        )
        == 3
    )


def test_a_failing_source_does_not_hide_the_others(harness: MetricsHarness) -> None:
    broken, working = Broken(), Source(reading("breaker.state", 1))
    harness.gauges.register(broken)
    harness.gauges.register(working)
    assert harness.value("resilience.breaker.state") == 1


def test_a_collected_source_leaves_the_registry() -> None:
    registry = GaugeRegistry()
    source = Source(reading("breaker.state", 1))
    registry.register(source)
    registry.register(source)
    assert len(registry.sources()) == 1
    del source
    gc.collect()
    assert registry.sources() == []


def test_sources_that_cannot_be_weakly_referenced_are_held_until_unregistered() -> None:
    class Slotted:
        __slots__ = ()

        def gauge_readings(self) -> Iterable[GaugeReading]:
            return [reading("breaker.state", 0)]

    registry = GaugeRegistry()
    source = Slotted()
    registry.register(source)
    registry.register(source)
    assert [r.name for r in registry.readings()] == ["breaker.state"]
    registry.unregister(source)
    assert registry.readings() == []


def test_gauge_methods_collapse_to_other_past_the_bound(harness: MetricsHarness) -> None:
    """1,600 method names give at most 1,000 named series plus ``_OTHER``, as on call metrics."""
    source = Source(
        *(
            reading("breaker.drop_probability", i / 10_000, method=f"/svc.S/M{i}", side="client")
            for i in range(1600)
        )
    )
    harness.gauges.register(source)
    points = harness.points("resilience.breaker.drop_probability")
    methods = [point.attributes["rpc.method"] for point in points]
    assert len(methods) == len(set(methods)) == DEFAULT_MAX_METHODS + 1
    assert "_OTHER" in methods
    assert harness.value("resilience.breaker.drop_probability", {"rpc.method": "_OTHER"}) == 0.1599


def test_gauges_and_call_metrics_share_one_method_bound() -> None:
    harness = MetricsHarness(max_methods=2)
    harness.observer.call_ended(CallInfo("client", "/svc.S/Called"), CallOutcome(OK, 0.001))
    source = Source(
        reading("timeout.seconds", 0.5, method="/svc.S/A"),
        reading("timeout.seconds", 0.9, method="/svc.S/B"),
        reading("timeout.seconds", 0.2, method="/svc.S/Called"),
        reading("timeout.seconds", 0.7, method="/svc.S/C"),
        reading("failover.attempted", 3, method="/svc.S/B"),
        reading("failover.attempted", 4, method="/svc.S/C"),
    )
    harness.gauges.register(source)
    timeouts = {
        point.attributes["rpc.method"]: point.value
        for point in harness.points("resilience.timeout")
    }
    assert timeouts == {"svc.S/Called": 0.2, "svc.S/A": 0.5, "_OTHER": 0.9}  # a gauge: the max
    failovers = {
        point.attributes["rpc.method"]: point.value
        for point in harness.points("resilience.failovers")
    }
    assert failovers == {"_OTHER": 7}  # a counter: the sum
    harness.provider.shutdown()
