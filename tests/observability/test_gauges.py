"""Gauge sources are polled at collection time and exported under their metric names."""

from __future__ import annotations

import gc
from collections.abc import Iterable

from resilience._events import GaugeReading
from resilience.observability import GaugeRegistry

from .conftest import MetricsHarness


class Source:
    def __init__(self, *readings: GaugeReading) -> None:
        self.readings = list(readings)

    def gauge_readings(self) -> Iterable[GaugeReading]:
        return self.readings


class Broken:
    def gauge_readings(self) -> Iterable[GaugeReading]:
        raise RuntimeError("bug in a source")


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
    method = {"rpc.method": "a.B/C", "side": "client"}
    assert harness.value("resilience.breaker.drop_probability", method) == 0.4
    assert harness.value("resilience.breaker.state", method) == 1
    assert harness.value("resilience.timeout", method) == 0.25
    assert harness.value("resilience.failover.window", {"target": "remote"}) == 7
    outcome = "resilience.failover.outcome"
    assert harness.value("resilience.failovers", {outcome: "attempted"}) == 12
    assert harness.value("resilience.failovers", {outcome: "refused", "target": "remote"}) == 2
    assert harness.value("resilience.limiter.fallback", {"limit": "checkout"}) == 1
    assert harness.value("resilience.state") == 0

    source.readings = [reading("breaker.drop_probability", 0.0, method="/a.B/C")]
    assert harness.value("resilience.breaker.drop_probability", {"rpc.method": "a.B/C"}) == 0.0


def test_unknown_readings_go_to_the_catch_all_gauge(harness: MetricsHarness) -> None:
    source = Source(reading("queue.depth", 3, queue="q"))  # held: the registry holds it weakly
    harness.gauges.register(source)
    assert harness.value("resilience.state", {"resilience.gauge": "queue.depth", "queue": "q"}) == 3


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
