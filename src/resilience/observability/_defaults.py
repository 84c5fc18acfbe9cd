"""The observers and tracer the interceptors use when they are given none."""

from __future__ import annotations

from resilience.events import Observer
from resilience.observability._stats import default_call_stats
from resilience.observability.metrics import default_metrics_observer
from resilience.observability.sentry import SentryReporter

_sentry_reporter = SentryReporter()


def default_observers() -> tuple[Observer, ...]:
    """The process-wide metrics observer (until an OpenTelemetry SDK meter provider is
    installed it only counts calls in flight), a crash reporter (a no-op until sentry-sdk is
    initialised; told of server calls' ends only) and the status page's call statistics (not
    called at all until a status page is served). With no backend, a call pair costs the
    metrics observer's start and end on each side and the crash reporter's one end."""
    return (default_metrics_observer(), _sentry_reporter, default_call_stats())
