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

from collections.abc import Iterable

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


class CallTracer:
    """Starts and ends the span of one call on one side.

    ``tracer_provider``: a fixed provider (tests, or a provider that is not the global one);
    default: the global provider, looked up on each call. ``colors`` and ``max_methods`` bound
    the color attribute and the span names as for metrics.
    """

    __slots__ = ("_bounds", "_cached", "_fixed")

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

    def enabled(self) -> bool:
        """Whether spans are being recorded (a real tracer provider is installed)."""
        return self._current_tracer() is not None

    def _current_tracer(self) -> trace.Tracer | None:
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
        tracer = self._current_tracer()
        if tracer is None:
            return None
        method = self._bounds.method(call.method)
        attributes: dict[str, str | int] = {
            "rpc.system.name": "grpc",
            "rpc.method": method,
            "resilience.color": self._bounds.color(call.color),
        }
        if call.tier is not None:
            attributes["resilience.tier"] = call.tier
        return tracer.start_span(
            method, context=parent, kind=_KINDS[call.side], attributes=attributes
        )

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
        the server's own faults on the server (gRPC conventions).
        """
        if span is None:
            return
        code = outcome.code
        span.set_attribute("rpc.response.status_code", code.name)
        if outcome.reject_reason is not None:
            span.set_attribute("resilience.reject_reason", str(outcome.reject_reason))
        if is_error(call.side, code):
            span.set_attribute("error.type", code.name)
            span.set_status(Status(StatusCode.ERROR, code.name))
        if outcome.exception is not None:
            span.record_exception(outcome.exception)
        span.end()

    def __repr__(self) -> str:
        return f"CallTracer(enabled={self.enabled()}, {self._bounds!r})"


_default_tracer = CallTracer()


def default_call_tracer() -> CallTracer:
    """The process-wide tracer the interceptors use (the global provider, default bounds)."""
    return _default_tracer
