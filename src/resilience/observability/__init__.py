"""Observability: golden-signal and decision metrics (OpenTelemetry), a Prometheus endpoint,
spans for the interceptors, context-rich logs, and crash reports to Sentry.

Everything here works with the OpenTelemetry API alone (a core dependency) and costs next to
nothing until an SDK is configured; the Prometheus endpoint (and the status page beside it)
needs the ``otel`` extra, crash reports need sentry-sdk initialised by the application, and
the overload health service the ``health`` extra. See docs/observability.md and
docs/status-page.md.
"""

from __future__ import annotations

from resilience.events import (
    GaugeRegistry,
    default_gauge_registry,
    register_gauge_source,
    unregister_gauge_source,
)
from resilience.observability._bounds import AttributeBounds
from resilience.observability._defaults import default_observers
from resilience.observability._gauges import GAUGES, GaugeSpec
from resilience.observability.health import OverloadHealth
from resilience.observability.logging import ContextFilter, JsonFormatter
from resilience.observability.metrics import MetricsObserver, default_metrics_observer
from resilience.observability.prometheus import MetricsServer, serve_metrics
from resilience.observability.sentry import (
    GENERIC_INTERNAL_MESSAGE,
    SentryReporter,
    generic_internal_message,
    scrub_event,
)
from resilience.observability.tracing import CallTracer, default_call_tracer

__all__ = [
    "GAUGES",
    "GENERIC_INTERNAL_MESSAGE",
    "AttributeBounds",
    "CallTracer",
    "ContextFilter",
    "GaugeRegistry",
    "GaugeSpec",
    "JsonFormatter",
    "MetricsObserver",
    "MetricsServer",
    "OverloadHealth",
    "SentryReporter",
    "default_call_tracer",
    "default_gauge_registry",
    "default_metrics_observer",
    "default_observers",
    "generic_internal_message",
    "register_gauge_source",
    "scrub_event",
    "serve_metrics",
    "unregister_gauge_source",
]
