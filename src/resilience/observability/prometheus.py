"""A Prometheus scrape endpoint for the library's metrics (needs the ``otel`` extra).

``serve_metrics(9464)`` builds an OpenTelemetry SDK ``MeterProvider`` whose only reader is the
Prometheus exporter, installs it as the global provider (so the interceptors' default metrics
observer records into it), and serves ``/metrics`` with prometheus_client's HTTP server on a
background thread. Users who already run an OpenTelemetry SDK or a collector do not call this:
they add their own reader to their own provider (docs/observability.md has the recipe).
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from opentelemetry import metrics

from resilience._base.backend_watch import check_now as check_backends_now
from resilience._base.env import METRICS_PORT_VAR, env_port
from resilience._base.optional import require
from resilience.errors import ConfigError
from resilience.events import default_gauge_registry
from resilience.observability._http import start_server
from resilience.observability._stats import CallStats, default_call_stats
from resilience.observability._status import status_app


class MetricsServer:
    """A running scrape endpoint: ``port`` (the real one when 0 was asked), ``host``, ``url``,
    the SDK ``meter_provider`` it reads, and :meth:`stop` (also on leaving a ``with`` block)."""

    def __init__(
        self,
        *,
        host: str,
        httpd: Any,
        thread: threading.Thread,
        provider: Any,
        stats: CallStats | None = None,
    ) -> None:
        self.host = host
        self._stats = stats
        self.port: int = httpd.server_port
        self.meter_provider = provider
        self._httpd = httpd
        self._thread = thread
        self._stopped = False

    @property
    def url(self) -> str:
        """The scrape URL, ``http://host:port/metrics``."""
        return f"{self._base}/metrics"

    @property
    def status_url(self) -> str:
        """The status page, ``http://host:port/status`` (its data: ``/status.json``)."""
        return f"{self._base}/status"

    @property
    def _base(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self) -> None:
        """Stop serving and shut the reader down; safe to call twice. The global meter provider
        stays installed (OpenTelemetry does not allow replacing it)."""
        if self._stopped:
            return
        self._stopped = True
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5.0)
        self.meter_provider.shutdown()
        if self._stats is not None:
            self._stats.deactivate()  # the status page is gone: its statistics stop too

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else "serving"
        return f"MetricsServer({self.url!r}, {state})"


DEFAULT_METRICS_PORT = 9464
"""The port :func:`serve_metrics` listens on when neither its argument nor
``RESILIENCE_METRICS_PORT`` names one: the OpenTelemetry Prometheus exporter's default."""


def serve_metrics(
    port: int | None = None,
    host: str = "127.0.0.1",
    *,
    set_global: bool = True,
    status: bool = True,
) -> MetricsServer:
    """Serve the library's metrics for Prometheus on ``http://host:port/metrics``.

    ``port`` 0 picks a free port (read it from the returned server's ``port``); None (the
    default) reads ``RESILIENCE_METRICS_PORT``, and :data:`DEFAULT_METRICS_PORT` when that is
    unset (a bad value raises ConfigError naming the variable). ``host`` defaults
    to loopback; pass ``"0.0.0.0"`` to be scraped from other machines. With ``set_global`` (the
    default) the new provider becomes OpenTelemetry's global meter provider; that fails with
    :class:`~resilience.errors.ConfigError` when an SDK provider is already installed (add a
    ``PrometheusMetricReader`` to it instead). With ``set_global=False`` pass the returned
    ``meter_provider`` to :class:`~resilience.observability.MetricsObserver` yourself.

    With ``status`` (the default) the same server also serves the live status page,
    ``/status`` (HTML, refreshed every second) and ``/status.json``, and the interceptors'
    default per-method statistics start recording (docs/status-page.md).

    Raises :class:`~resilience.errors.MissingExtraError` when the ``otel`` extra is missing.
    """
    if port is None:
        port = env_port(METRICS_PORT_VAR)
        if port is None:
            port = DEFAULT_METRICS_PORT
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(f"port must be an integer from 0 to 65535 (0: a free port), got {port!r}")
    if not isinstance(host, str) or not host:
        raise ConfigError(f"host must be a non-empty address string, got {host!r}")
    sdk_metrics = require("opentelemetry.sdk.metrics", "otel")
    exporter = require("opentelemetry.exporter.prometheus", "otel")
    prometheus_client = require("prometheus_client", "otel")

    if set_global and isinstance(metrics.get_meter_provider(), sdk_metrics.MeterProvider):
        raise ConfigError(
            "serve_metrics: an OpenTelemetry SDK MeterProvider is already installed globally; "
            "add opentelemetry.exporter.prometheus.PrometheusMetricReader to it and serve "
            "prometheus_client yourself (docs/observability.md), or pass set_global=False"
        )
    registry = prometheus_client.CollectorRegistry()
    reader = exporter.PrometheusMetricReader(registry=registry)
    provider = sdk_metrics.MeterProvider(metric_readers=[reader])
    app = prometheus_client.make_wsgi_app(registry)
    stats = default_call_stats() if status else None
    if stats is not None:
        app = status_app(app, stats, default_gauge_registry())
    try:
        httpd, thread = start_server(app, host, port)
    except BaseException:
        provider.shutdown()
        raise
    if stats is not None:
        stats.activate()
    if set_global:
        metrics.set_meter_provider(provider)
        check_backends_now()  # the metrics observers hear the very next call
    return MetricsServer(host=host, httpd=httpd, thread=thread, provider=provider, stats=stats)
