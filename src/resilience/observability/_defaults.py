"""The observers and tracer the interceptors use when they are given none."""

from __future__ import annotations

from resilience.events import Observer
from resilience.observability._stats import default_call_stats
from resilience.observability.metrics import default_metrics_observer
from resilience.observability.sentry import SentryReporter

_sentry_reporter = SentryReporter()


def default_observers() -> tuple[Observer, ...]:
    """The process-wide metrics observer, a crash reporter (told of server calls' ends only)
    and the status page's call statistics. None of them is called until its backend exists
    (an OpenTelemetry SDK meter provider installed globally, sentry-sdk initialised, a status
    page served): with no backend, they cost a call nothing."""
    return (default_metrics_observer(), _sentry_reporter, default_call_stats())
