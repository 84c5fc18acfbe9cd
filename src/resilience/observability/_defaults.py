"""The observers and tracer the interceptors use when they are given none."""

from __future__ import annotations

from resilience.events import Observer
from resilience.observability.metrics import default_metrics_observer
from resilience.observability.sentry import SentryReporter

_sentry_reporter = SentryReporter()


def default_observers() -> tuple[Observer, ...]:
    """The process-wide metrics observer (a no-op until an OpenTelemetry SDK meter provider is
    installed) and a crash reporter (a no-op until sentry-sdk is initialised). Both cost a few
    dictionary lookups per call when their backend is absent."""
    return (default_metrics_observer(), _sentry_reporter)
