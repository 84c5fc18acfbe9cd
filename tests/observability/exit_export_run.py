"""Run in a subprocess by test_duration_queue.py (it installs the global meter provider, which
OpenTelemetry allows once per process, and the check is what happens at the process's exit).

A periodic reader with an hour's interval, so its only export is the one at exit; 1,000 server
calls end through the default metrics observer (their durations queued); the exporter prints
the call count it receives per histogram.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)

from resilience.events import CallInfo, CallOutcome
from resilience.observability import default_metrics_observer

CALLS = 1000


class PrintingExporter(MetricExporter):
    """Prints ``<histogram name> <count>`` for each call duration histogram it exports."""

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        for resource in metrics_data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name.endswith(".call.duration"):
                        points: Sequence[Any] = metric.data.data_points
                        print(metric.name, sum(point.count for point in points), flush=True)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass


reader = PeriodicExportingMetricReader(PrintingExporter(), export_interval_millis=3_600_000)
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
observer = default_metrics_observer()
call = CallInfo("server", "/echo.Echo/Say")
for _ in range(CALLS):
    observer.call_started(call)
    observer.call_ended(call, CallOutcome(grpc.StatusCode.OK, 0.001))
print("calls ended", CALLS, flush=True)
