"""One server call in flight: :class:`ServerCall`, what the server pipeline read from the call
(the :class:`CallContext` and OpenTelemetry context to run the handler under) or the rejection
it ends with, what it holds (its admission by the method's stages, its bulkhead place), and
its end, which frees them once and tells observers and tracing."""

from __future__ import annotations

from collections.abc import Hashable

import grpc
from opentelemetry.context import Context as OtelContext
from opentelemetry.trace import Span

from resilience._base.clock import Clock
from resilience.context import CallContext
from resilience.events import CallInfo, CallOutcome, Observer
from resilience.interceptors._guard import report
from resilience.interceptors._method_state import MethodState
from resilience.interceptors._pipeline import Rejection, tell_ended
from resilience.observability.tracing import CallTracer
from resilience.pipeline import Kind, Outcome, Permit
from resilience.pipeline._admission import Admitted
from resilience.profiling import _calls as _profiled

_OK = grpc.StatusCode.OK


class ServerCall:
    """One server call in flight: the :class:`CallContext` and OpenTelemetry context to run the
    handler under, or the ``rejection`` to end it with, and what :meth:`end` needs. ``info``
    is the call's CallInfo when observers or tracing hear of it (``observers``: those that
    hear of server calls' ends; ``span``), else None: the call is its own report, one object
    per call."""

    __slots__ = (
        "admitted",
        "call_context",
        "caller",
        "clock",
        "info",
        "observers",
        "otel_context",
        "profiled",
        "rejection",
        "slot",
        "span",
        "started",
        "state",
        "tracer",
    )

    def __init__(
        self,
        state: MethodState,
        clock: Clock,
        started: float,
        call_context: CallContext,
        otel_context: OtelContext | None,
    ) -> None:
        self.state = state
        self.clock = clock
        self.started = started
        self.call_context = call_context
        self.otel_context = otel_context
        self.rejection: Rejection | None = None
        self.caller: str | None = None
        """The raw caller value of a per-caller limit (never logged or shown), else None."""
        self.admitted: Admitted | None = None
        """The call's admission by the method's stages (overload guard, rate limit), ended
        when the call ends."""
        self.info: CallInfo | None = None
        self.observers: tuple[Observer, ...] = ()
        self.tracer: CallTracer | None = None
        self.span: Span | None = None
        self.profiled: Hashable | None = None
        self.slot: Permit | None = None
        """The call's place in the method's bulkhead, freed when the call ends."""

    def end(
        self,
        code: grpc.StatusCode,
        exception: BaseException | None = None,
        reason: str | None = None,
    ) -> None:
        """Free the call's bulkhead place; end its admission (the overload guard released with
        the call's latency, whatever its code); tell observers and tracing, with the reason of
        the call's :attr:`rejection` or else ``reason`` (a hook's refusal, say a fault's).
        Only the first end counts (a cancellation can land in the abort that follows a
        rejection, after the call ended): later ones do nothing."""
        duration = self.clock() - self.started
        profiled = self.profiled
        if profiled is not None:  # registered for the profiler's labels
            self.profiled = None
            try:
                _profiled.end(profiled, self, duration)
            except Exception as exc:
                report("server profiler end", exc)
        slot = self.slot
        if slot is not None:
            self.slot = None
            try:
                slot.end(Outcome(Kind.SUCCESS if code is _OK else Kind.FAILURE, duration))
            except Exception as exc:
                report("server bulkhead end", exc)
        admitted = self.admitted
        if admitted is not None:
            self.admitted = None
            try:
                if code is _OK:
                    admitted.end_ok(duration)
                else:
                    admitted.end(Outcome(Kind.FAILURE, duration))
            except Exception as exc:
                report("server admission end", exc)
        info = self.info
        if info is None:
            return
        self.info = None
        if self.rejection is not None:
            reason = self.rejection.reason
        outcome = CallOutcome(code, duration, reason, exception)
        tell_ended(info, outcome, self.observers, self.tracer, self.span)
