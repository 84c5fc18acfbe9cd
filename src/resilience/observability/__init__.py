"""Observability: golden-signal and decision metrics (OpenTelemetry), a Prometheus endpoint,
spans for the interceptors, context-rich logs, and crash reports to Sentry.

Everything here works with the OpenTelemetry API alone (a core dependency) and costs next to
nothing until an SDK is configured; the Prometheus endpoint (and the status page beside it)
needs the ``otel`` extra, crash reports need sentry-sdk initialised by the application, and
the overload health service the ``health`` extra. See docs/observability.md and
docs/status-page.md.

The gauge extension points (``GaugeSource``, ``GaugeRegistry``, ``register_gauge_source``) are
in :mod:`resilience.events`, beside ``Observer``.
"""

from __future__ import annotations

from resilience.observability._bounds import AttributeBounds
from resilience.observability._defaults import default_observers
from resilience.observability.health import OverloadHealth
from resilience.observability.logging import ContextFilter, JsonFormatter
from resilience.observability.metrics import MetricsObserver, default_metrics_observer
from resilience.observability.prometheus import MetricsServer, serve_metrics
from resilience.observability.sentry import SentryReporter
from resilience.observability.tracing import CallTracer, default_call_tracer

__all__ = [
    "AttributeBounds",
    "CallTracer",
    "ContextFilter",
    "JsonFormatter",
    "MetricsObserver",
    "MetricsServer",
    "OverloadHealth",
    "SentryReporter",
    "default_call_tracer",
    "default_metrics_observer",
    "default_observers",
    "serve_metrics",
]
