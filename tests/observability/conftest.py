"""Fixtures for the observability tests: in-memory OpenTelemetry readers, a capturing Sentry
transport, and real Prometheus and bugsink servers on loopback for the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from resilience.events import GaugeRegistry
from resilience.observability import MetricsObserver

from .servers import BugsinkServer, PrometheusServer


class MetricsHarness:
    """A MetricsObserver on its own SDK provider, with helpers to read what it recorded."""

    def __init__(self, **options: Any) -> None:
        self.reader = InMemoryMetricReader()
        self.provider = MeterProvider(metric_readers=[self.reader])
        self.gauges = GaugeRegistry()
        self.observer = MetricsObserver(meter_provider=self.provider, gauges=self.gauges, **options)

    def points(self, name: str) -> list[Any]:
        """The data points of metric ``name`` in a fresh collection (empty if none)."""
        data = self.reader.get_metrics_data()
        if data is None:
            return []
        found: list[Any] = []
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found.extend(metric.data.data_points)
        return found

    def value(self, name: str, attributes: dict[str, Any] | None = None) -> float:
        """Sum of the counter/gauge values (histogram counts) of metric ``name`` over the points
        whose attributes include ``attributes``."""
        total = 0.0
        for point in self.points(name):
            if all(point.attributes.get(k) == v for k, v in (attributes or {}).items()):
                total += point.count if hasattr(point, "count") else point.value
        return total


@pytest.fixture
def harness() -> Iterator[MetricsHarness]:
    harness = MetricsHarness()
    yield harness
    harness.provider.shutdown()


class CapturingTransport(Transport):
    """A Sentry transport that keeps the events instead of sending them."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.events: list[dict[str, Any]] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        event = envelope.get_event()
        if event is not None:
            self.events.append(dict(event))


def close_sentry() -> None:
    """Flush and uninstall the process's Sentry client so later tests see Sentry off."""
    client = sentry_sdk.get_client()
    if client.is_active():
        client.close(timeout=2.0)
    sentry_sdk.get_global_scope().set_client(None)


@pytest.fixture
def sentry_events() -> Iterator[list[dict[str, Any]]]:
    """Sentry initialised (default integrations off, DedupeIntegration on as by default) with a
    transport that records events; yields the list the events land in."""
    from sentry_sdk.integrations.dedupe import DedupeIntegration

    transport = CapturingTransport()
    sentry_sdk.init(
        dsn="http://public@127.0.0.1:9/1",
        transport=transport,
        default_integrations=False,
        integrations=[DedupeIntegration()],
    )
    yield transport.events
    close_sentry()


@pytest.fixture(scope="session")
def prometheus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def bugsink_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BugsinkServer]:
    server = BugsinkServer(tmp_path_factory.mktemp("bugsink"))
    try:
        yield server
    finally:
        server.stop()
