"""Client and server spans for the interceptors, free when tracing is off.

A span is started only when a real tracer provider is installed (an SDK or any other
implementation); with the OpenTelemetry API alone the global provider is a proxy or a no-op
and :meth:`CallTracer.start` returns ``None`` after one function call and one identity check.
The provider is looked up on each call, so installing one later switches tracing on.

Spans follow the OpenTelemetry RPC span conventions
(https://opentelemetry.io/docs/specs/semconv/rpc/rpc-spans/ and .../rpc/grpc/): name
``pkg.Service/Method``, kind CLIENT or SERVER, attributes ``rpc.system.name="grpc"``,
``rpc.method``, ``rpc.response.status_code`` and ``error.type`` when it failed; plus
``resilience.color``, ``resilience.tier`` and ``resilience.reject_reason`` when the library
refused the call. The interceptor starts one client span per attempt (a failover is a second
attempt with its own span) and one server span per handled call.

Usage in an interceptor::

    span = tracer.start(call, parent=extracted_context)   # None when tracing is off
    ctx = tracer.context_with(span, extracted_context)    # attach / inject with this context
    ...
    tracer.end(span, call, outcome)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

import grpc
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import NoOpTracerProvider, ProxyTracerProvider, Span, SpanKind
from opentelemetry.trace.status import Status, StatusCode

from resilience._version import __version__
from resilience.events import CallInfo, CallOutcome
from resilience.observability._bounds import DEFAULT_COLORS, DEFAULT_MAX_METHODS, AttributeBounds
from resilience.observability.metrics import is_error

TRACER_NAME = "resilience"

_KINDS = {"client": SpanKind.CLIENT, "server": SpanKind.SERVER}
_INACTIVE = (ProxyTracerProvider, NoOpTracerProvider)
_STATUS_CODE = "rpc.response.status_code"


def _end_of(side: str, code: grpc.StatusCode) -> tuple[str, Status | None]:
    """The ``rpc.response.status_code`` value of a call that ended with ``code`` on ``side``,
    and the span's error status (None: not an error on that side)."""
    return code.name, Status(StatusCode.ERROR, code.name) if is_error(side, code) else None


_ENDS = {side: {id(code): _end_of(side, code) for code in grpc.StatusCode} for side in _KINDS}
""":func:`_end_of` of every side and code (keyed by the code's ``id``: a ``StatusCode`` member
lives as long as the process, and an enum's ``__hash__``, like its ``name``, is Python-level
code), built once: a ``Status`` is immutable."""

_Start = tuple[str, SpanKind, Mapping[str, str | int]]
_MAX_STARTS = 4096
"""Span starts kept per tracer (keyed by the raw method and color, which arrive from the
network): beyond that, a new combination's attributes are built for each of its spans."""


class CallTracer:
    """Starts and ends the span of one call on one side.

    ``tracer_provider``: a fixed provider (tests, or a provider that is not the global one);
    default: the global provider, looked up on each call. ``colors`` and ``max_methods`` bound
    the color attribute and the span names as for metrics.
    """

    __slots__ = ("_bounds", "_cached", "_fixed", "_pinned", "_starts")

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        colors: Iterable[str] = DEFAULT_COLORS,
        max_methods: int = DEFAULT_MAX_METHODS,
    ) -> None:
        self._bounds = AttributeBounds(colors=colors, max_methods=max_methods)
        self._fixed = tracer_provider
        # (provider, its tracer or None when inactive), replaced as one value: thread-safe.
        self._cached: tuple[object, trace.Tracer | None] = (object(), None)
        self._pinned: trace.Tracer | None = None
        # (side, method, color, tier) -> the span's name, kind and start attributes
        self._starts: dict[tuple[str, str, str | None, int | None], _Start] = {}

    def enabled(self) -> bool:
        """Whether spans are being recorded (a real tracer provider is installed)."""
        return self._current_tracer() is not None

    def pinned(self) -> CallTracer | None:
        """This tracer bound to the tracer of the provider installed now (its :meth:`start`
        no longer looks the provider up: what a pipeline keeps between its periodic checks),
        or None when tracing is off. Shares this tracer's bounds and start cache."""
        tracer = self._current_tracer()
        if tracer is None:
            return None
        pinned = CallTracer.__new__(CallTracer)
        pinned._bounds, pinned._fixed, pinned._cached = self._bounds, self._fixed, self._cached
        pinned._starts, pinned._pinned = self._starts, tracer
        return pinned

    def _current_tracer(self) -> trace.Tracer | None:
        if self._pinned is not None:
            return self._pinned
        provider = self._fixed if self._fixed is not None else trace.get_tracer_provider()
        cached_provider, tracer = self._cached
        if provider is cached_provider:
            return tracer
        tracer = None
        if not isinstance(provider, _INACTIVE):
            tracer = provider.get_tracer(TRACER_NAME, __version__)
        self._cached = (provider, tracer)
        return tracer

    def start(self, call: CallInfo, *, parent: otel_context.Context | None = None) -> Span | None:
        """Start the call's span as a child of ``parent`` (default: the current context).

        Returns ``None`` when tracing is off. The span is not made current: use
        :meth:`context_with` to attach it or to inject it into outgoing metadata.
        """
        tracer = self._pinned
        if tracer is None:
            tracer = self._current_tracer()
            if tracer is None:
                return None
        key = (call.side, call.method, call.color, call.tier)
        start = self._starts.get(key)
        if start is None:
            start = self._start_of(call, key)
        name, kind, attributes = start
        return tracer.start_span(name, parent, kind, attributes)

    def _start_of(self, call: CallInfo, key: tuple[str, str, str | None, int | None]) -> _Start:
        """The span name, kind and start attributes of ``call`` (the conventions' required
        ones plus the library's color and tier), kept for the next call with the same ``key``
        while fewer than :data:`_MAX_STARTS` are kept."""
        method = self._bounds.method(call.method)
        attributes: dict[str, str | int] = {
            "rpc.system.name": "grpc",
            "rpc.method": method,
            "resilience.color": self._bounds.color(call.color),
        }
        if call.tier is not None:
            attributes["resilience.tier"] = call.tier
        # read-only: every span of the key is started with this one mapping
        start = (method, _KINDS[call.side], MappingProxyType(attributes))
        if len(self._starts) < _MAX_STARTS:
            self._starts[key] = start
        return start

    @staticmethod
    def context_with(
        span: Span | None, parent: otel_context.Context | None = None
    ) -> otel_context.Context:
        """``parent`` (default: the current context) with ``span`` as its current span; the
        parent unchanged when ``span`` is None."""
        if span is None:
            return parent if parent is not None else otel_context.get_current()
        return trace.set_span_in_context(span, parent)

    @staticmethod
    def end(span: Span | None, call: CallInfo, outcome: CallOutcome) -> None:
        """Record ``outcome`` on ``span`` and end it; nothing when ``span`` is None.

        Which codes are errors depends on ``call.side``: every non-OK code on the client, only
        the server's own faults on the server (gRPC conventions). The attributes go in one
        ``set_attribute`` (an ordinary end) or one ``set_attributes`` call (each takes the
        span's lock); ``record_exception`` only for an exception that escaped the handler.
        """
        if span is None:
            return
        code = outcome.code
        end = _ENDS[call.side].get(id(code))
        name, error = _end_of(call.side, code) if end is None else end
        reason = outcome.reject_reason
        if error is None and reason is None:
            span.set_attribute(_STATUS_CODE, name)
        else:
            attributes = {_STATUS_CODE: name}
            if reason is not None:
                attributes["resilience.reject_reason"] = str(reason)
            if error is not None:
                attributes["error.type"] = name
            span.set_attributes(attributes)
            if error is not None:
                span.set_status(error)
        if outcome.exception is not None:
            span.record_exception(outcome.exception)
        span.end()

    def __repr__(self) -> str:
        return f"CallTracer(enabled={self.enabled()}, {self._bounds!r})"


_default_tracer = CallTracer()


def default_call_tracer() -> CallTracer:
    """The process-wide tracer the interceptors use (the global provider, default bounds)."""
    return _default_tracer
