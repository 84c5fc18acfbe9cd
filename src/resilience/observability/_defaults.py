"""The observers and tracer the interceptors use when they are given none."""

from __future__ import annotations

from resilience.events import Observer
from resilience.observability._stats import default_call_stats
from resilience.observability.metrics import default_metrics_observer
from resilience.observability.sentry import SentryReporter

_sentry_reporter = SentryReporter()


def default_observers() -> tuple[Observer, ...]:
    """The process-wide metrics observer (a no-op until an OpenTelemetry SDK meter provider is
    installed), a crash reporter (a no-op until sentry-sdk is initialised) and the status
    page's call statistics (a no-op until a status page is served). Each costs a few
    dictionary lookups per call when its backend is absent."""
    return (default_metrics_observer(), _sentry_reporter, default_call_stats())
