"""The four golden signals and the library's decisions as OpenTelemetry metrics.

:class:`MetricsObserver` records through the OpenTelemetry metrics *API*: without an SDK
``MeterProvider`` every instrument is a no-op, so the default observer costs almost nothing;
with one (for example :func:`resilience.observability.serve_metrics`) the series appear.

Names, units and attributes follow the OpenTelemetry RPC semantic conventions
(https://opentelemetry.io/docs/specs/semconv/rpc/rpc-metrics/ and .../rpc/grpc/):

- ``rpc.server.call.duration`` / ``rpc.client.call.duration``: histograms in seconds with the
  recommended bucket boundaries; attributes ``rpc.system.name="grpc"``, ``rpc.method``
  (``pkg.Service/Method``), ``rpc.response.status_code`` (``"OK"``, ``"UNAVAILABLE"``...),
  ``error.type`` (the status code, only when the call failed), and ``resilience.color``.
  Their count is the call count by status code (traffic and errors), their buckets the latency.

The library adds, under its own ``resilience.`` namespace:

- ``resilience.server.active_calls`` / ``resilience.client.active_calls``: calls in flight
  (saturation), by method and color (counted by the observer, read at collection);
- ``resilience.rejections``: calls the library refused locally, by side, method, color,
  ``resilience.reject_reason`` and ``resilience.tier``;
- ``resilience.decisions``: named decision events (``failover.attempted``...), by
  ``resilience.decision`` and the event's own low-cardinality attributes;
- the polled gauges of :mod:`resilience.observability._gauges` (breaker, timeout, retry window,
  failovers, limiter fallback).

One attribute scheme on every series: ``rpc.system.name="grpc"`` and ``rpc.method`` wherever a
series is about a method; the side as the metric name's ``client``/``server`` where it has one,
else as ``resilience.side``; every other library attribute under ``resilience.``
(``resilience.color``, ``resilience.tier``, ``resilience.target``, ``resilience.limit``...).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, MeterProvider, NoOpMeterProvider, Observation

from resilience._base.backend_watch import wait_for_backend
from resilience._version import __version__
from resilience.errors import REASON_VALUES
from resilience.events import (
    EVERYTHING,
    NOTHING,
    CallInfo,
    CallOutcome,
    GaugeRegistry,
    Interest,
    default_gauge_registry,
)
from resilience.observability._bounds import (
    DEFAULT_COLORS,
    DEFAULT_MAX_METHODS,
    AttributeBounds,
)
from resilience.observability._durations import DurationQueue, default_duration_queue
from resilience.observability._gauges import create_gauge_instruments
from resilience.observability._series import SERVER_ERROR_CODES as SERVER_ERROR_CODES
from resilience.observability._series import Attributes, Series
from resilience.observability._series import is_error as is_error

METER_NAME = "resilience"

DURATION_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip
"""Histogram boundaries in seconds recommended by the RPC conventions for call durations."""

_MAX_EVENT_SETS = 1000
_MAX_CACHED_SERIES = 4096

# Providers whose instruments do nothing: the no-op one, and the global proxy before an SDK
# provider is set (the API exports no public name for it).
_NOT_RECORDING: tuple[type, ...]
try:
    from opentelemetry.metrics._internal import _ProxyMeterProvider

    _NOT_RECORDING = (NoOpMeterProvider, _ProxyMeterProvider)
except ImportError:  # pragma: no cover - should the proxy move, it is treated as recording
    _NOT_RECORDING = (NoOpMeterProvider,)


def _records(provider: MeterProvider) -> bool:
    """Whether instruments of ``provider`` record anything (it is not a no-op or proxy)."""
    return not isinstance(provider, _NOT_RECORDING)


class MetricsObserver:
    """An :class:`~resilience.events.Observer` recording golden signals and decisions.

    Keyword-only options: ``meter_provider`` (default: the global one, so a provider set later
    is picked up); ``colors``, the traffic colors exported as themselves (others become
    ``"other"``, no color is ``"none"``); ``max_methods``, the bound on distinct ``rpc.method``
    values (later ones become ``"_OTHER"``), on the call metrics and the gauges alike;
    ``gauges``, the registry whose sources the observable gauges poll (default: the
    process-wide one); ``defer_durations`` (default on): durations go through the SDK off the
    call path, in batches and before every collection (:mod:`._durations`: an export sees every
    call that ended before it; exemplar times are the recording's), instead of one SDK
    ``record`` per call on it. Instruments are created here, once; attribute dictionaries are
    built once per bounded (side, method, color) and status code and reused, so a call costs a
    dictionary lookup at each end and a queued (or direct) duration recording. Calls in
    flight are counted here, without a lock (a start and an end each take one step of a
    counter), and read when the exporter collects.

    While the provider does not record (the global one before an SDK provider is installed, or
    a no-op provider given) the observer's :attr:`interest` is
    :data:`~resilience.events.NOTHING`: no call tells it anything, so it costs a call nothing.
    Following the global provider, it looks again every second (a daemon thread,
    :mod:`resilience._base.backend_watch`; ``serve_metrics`` tells it at once) and hears every
    call that starts once it records; calls already in flight then are neither counted in
    flight nor recorded.
    """

    def __init__(
        self,
        *,
        meter_provider: MeterProvider | None = None,
        colors: Iterable[str] = DEFAULT_COLORS,
        max_methods: int = DEFAULT_MAX_METHODS,
        gauges: GaugeRegistry | None = None,
        defer_durations: bool = True,
    ) -> None:
        self._bounds = AttributeBounds(colors=colors, max_methods=max_methods)
        self._queue: DurationQueue | None = default_duration_queue() if defer_durations else None
        meter = metrics.get_meter(METER_NAME, __version__, meter_provider=meter_provider)
        self._duration = {
            side: meter.create_histogram(
                f"rpc.{side}.call.duration",
                unit="s",
                description=f"Duration of {kind} remote procedure calls.",
                explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
            )
            for side, kind in (("client", "outgoing"), ("server", "incoming"))
        }
        # Calls in flight are counted here and read when the exporter collects: two SDK
        # recordings per call saved (each costs microseconds), the same exported series.
        for side, kind in (("client", "Outgoing"), ("server", "Incoming")):
            meter.create_observable_up_down_counter(
                f"resilience.{side}.active_calls",
                callbacks=[self._observe_in_flight(side)],
                unit="{call}",
                description=f"{kind} calls in flight (saturation).",
            )
        self._rejections = meter.create_counter(
            "resilience.rejections",
            unit="{call}",
            description="Calls refused locally by the library, by reason and tier.",
        )
        self._decisions = meter.create_counter(
            "resilience.decisions",
            unit="{event}",
            description="Decisions taken by the library (failovers, limiter fallbacks...).",
        )
        # A fixed provider is judged once; the global one is looked at until it records.
        self._follows_global = meter_provider is None
        self._live = _records(
            metrics.get_meter_provider() if meter_provider is None else meter_provider
        )
        self._gauges = gauges if gauges is not None else default_gauge_registry()
        create_gauge_instruments(meter, self._gauges, self._bounds)
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str, str | None], Series] = {}  # raw key -> its series
        self._bounded: dict[tuple[str, str, str], Series] = {}
        self._rejected: dict[tuple[str, str, str, str, str], Attributes] = {}
        self._events: dict[tuple[str, frozenset[tuple[str, str]]], Attributes] = {}

    @property
    def interest(self) -> Interest:
        """Everything while the provider records, else nothing (see the class docstring).
        Read while it does not, following the global provider, it looks at it now and, still
        not recording, has the backend watch look again every second."""
        if self.backend_ready():
            return EVERYTHING
        if self._follows_global:
            wait_for_backend(self)
        return NOTHING

    def backend_ready(self) -> bool:
        """Whether the provider records now (looked up again when it follows the global one):
        from the moment it does, the observer hears every call that starts."""
        if not self._live and self._follows_global:
            self._live = _records(metrics.get_meter_provider())
        return self._live

    @property
    def bounds(self) -> AttributeBounds:
        """The color allow-list and method bound in force."""
        return self._bounds

    @property
    def gauges(self) -> GaugeRegistry:
        """The registry the observable gauges poll."""
        return self._gauges

    def call_started(self, call: CallInfo) -> None:
        """Count the call as in flight: one step of its series' start count (no lock)."""
        series = self._series.get((call.side, call.method, call.color))
        if series is None:
            series = self._series_of(call.side, call.method, call.color)
        next(series.started)

    def call_ended(self, call: CallInfo, outcome: CallOutcome) -> None:
        """Count the call's end (it is no longer in flight); when the meter provider records,
        record duration and status and count a rejection."""
        side = call.side
        series = self._series.get((side, call.method, call.color))
        if series is None:
            series = self._series_of(side, call.method, call.color)
        next(series.ended)
        if not self._live:  # called directly: the interceptors do not call it then
            return
        code = outcome.code
        attributes = series.by_code.get(code)
        if attributes is None:
            attributes = series.ended_attributes(side, code)
        if self._queue is not None:
            self._queue.add(self._duration[side], outcome.duration, attributes)
        else:
            self._duration[side].record(outcome.duration, attributes)
        if outcome.reject_reason is not None:
            self._rejections.add(1, self._rejection_attributes(call, series, outcome.reject_reason))

    def event(self, name: str, attributes: Mapping[str, str]) -> None:
        """Count a decision event; attribute sets beyond a bound keep only the event name."""
        key = (name, frozenset(attributes.items()))
        cached = self._events.get(key)
        if cached is None:
            cached = {**self._bounds.exported(attributes), "resilience.decision": name}
            if len(self._events) < _MAX_EVENT_SETS:
                self._events[key] = cached
            else:
                cached = {"resilience.decision": name}
        self._decisions.add(1, cached)

    def _observe_in_flight(self, side: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def callback(options: CallbackOptions) -> Iterable[Observation]:
            # The SDK runs every callback before it reads any instrument: durations queued
            # before this collection are recorded in time for it.
            if self._queue is not None:
                self._queue.drain()
            with self._lock:  # the table of series, not their counts
                series = [s for key, s in self._bounded.items() if key[0] == side]
            return [Observation(s.in_flight(), s.base) for s in series]

        return callback

    def _series_of(self, side: str, method: str, color: str | None) -> Series:
        """The series of a call's raw (side, method, color): its bounded method and color's,
        shared by every raw key that bounds to them, remembered by raw key up to a bound
        (raw colors come from the network; past the bound it is found again per call)."""
        bounded_method = self._bounds.method(method)
        bounded_color = self._bounds.color(color)
        key = (side, bounded_method, bounded_color)
        series = self._bounded.get(key)
        if series is None:
            with self._lock:
                series = self._bounded.get(key)
                if series is None:
                    series = self._bounded[key] = Series(bounded_method, bounded_color)
        if len(self._series) < _MAX_CACHED_SERIES:
            self._series[(side, method, color)] = series
        return series

    def _rejection_attributes(self, call: CallInfo, series: Series, reason: str) -> Attributes:
        reason = str(reason) if reason in REASON_VALUES else "other"
        tier = self._bounds.tier(call.tier)
        base = series.base
        key = (call.side, base["rpc.method"], base["resilience.color"], reason, tier)
        attributes = self._rejected.get(key)
        if attributes is None:
            attributes = {
                **base,
                "resilience.side": call.side,
                "resilience.reject_reason": reason,
                "resilience.tier": tier,
            }
            self._rejected[key] = attributes
        return attributes

    def __repr__(self) -> str:
        return f"MetricsObserver({self._bounds!r})"


_default_observer: MetricsObserver | None = None
_default_lock = threading.Lock()


def default_metrics_observer() -> MetricsObserver:
    """The process-wide observer the interceptors use by default: the global meter provider
    (a no-op until an SDK provider is set, then live), default bounds, the default registry."""
    global _default_observer
    if _default_observer is None:
        with _default_lock:
            if _default_observer is None:
                _default_observer = MetricsObserver()
    return _default_observer
