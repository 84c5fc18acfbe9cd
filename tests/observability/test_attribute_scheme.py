"""One attribute scheme on every series the library exports: the OpenTelemetry RPC conventions'
names (``rpc.system.name="grpc"`` beside every ``rpc.method``, ``rpc.response.status_code``,
``error.type``) and everything else of the library's under ``resilience.``; no bare ``side``,
``target`` or ``limit``."""

from __future__ import annotations

from typing import Any

from .conftest import MetricsHarness
from .dashboard import EverySource, exercise

CONVENTIONS = {"rpc.system.name", "rpc.method", "rpc.response.status_code", "error.type"}


def every_point(harness: MetricsHarness) -> list[tuple[str, dict[str, Any]]]:
    data = harness.reader.get_metrics_data()
    assert data is not None
    return [
        (metric.name, dict(point.attributes or {}))
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        for point in metric.data.data_points
    ]


def test_every_series_follows_one_scheme(harness: MetricsHarness) -> None:
    harness.gauges.register(source := EverySource())
    exercise(harness.observer)
    harness.observer.event("failover.attempted", {"target": "remote", "method": "/echo.Echo/Say"})

    points = every_point(harness)

    names = {name for name, _ in points}
    assert {"resilience.breaker.drop_probability", "resilience.failovers"} <= names
    assert {"resilience.limiter.fallback", "resilience.decisions", "resilience.rejections"} <= names
    for name, attributes in points:
        for key in attributes:
            assert key in CONVENTIONS or key.startswith("resilience."), (name, key)
        if "rpc.method" in attributes:
            assert attributes["rpc.system.name"] == "grpc", (name, attributes)
            assert not attributes["rpc.method"].startswith("/"), (name, attributes)
    assert source is not None


def test_the_side_is_named_alike_on_gauges_and_counters(harness: MetricsHarness) -> None:
    harness.gauges.register(source := EverySource())
    exercise(harness.observer)

    sides = {
        name: attributes["resilience.side"]
        for name, attributes in every_point(harness)
        if "resilience.side" in attributes
    }

    assert sides["resilience.breaker.drop_probability"] == "client"
    assert sides["resilience.timeout"] == "client"
    assert "resilience.rejections" in sides
    assert source is not None
