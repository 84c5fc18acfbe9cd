"""The client side of the core: per call, policy lookup -> a call made after the deadline it
inherited from the call being served has passed, or with a negative or NaN timeout, is refused
(DEADLINE_EXCEEDED, reason ``deadline``, never sent, not counted by the breaker) -> breaker
admission -> deadline =
min(dynamic timeout, caller's timeout, remaining deadline of the call being handled) ->
outgoing metadata (trace, baggage color, tier, failover mark); when the call ends, its status
feeds the breaker and the dynamic timeout, and observers and tracing hear of it.

The tier header travels only when the caller chose a tier (``resilience.context.tier``) or
inherited one from the call it is handling. Otherwise the server applies its own policy's tier
for the method, which is what the header would have said at best (the client policy's tier is
only a default for the client's own metrics); leaving it out spares every plain call ~10 us of
metadata handling on both sides, measured live (benchmarks/README.md, ``bare_metadata``).
A call with nothing to carry (no span, color, tier, failover mark, nor an OpenTelemetry
context) sends the caller's metadata object itself: no copy, and no ``grpc.aio.Metadata``
rebuilt per call on aio channels.

A call's cost live is mostly this code running with cold CPU caches between two network
waits, so :meth:`ClientPipeline.start` is one straight path: one clock read (the tracer
re-check, the deadline and, with the default clock, the call's start), the state and the
CallInfo looked up inline, and one object per admitted call (:class:`ClientCall`, which is
also the call's report to observers and tracing)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import grpc
from opentelemetry.context import get_current
from opentelemetry.trace import Span

from resilience._base.clock import Clock, remaining_until
from resilience.chaos._apply import fault_info
from resilience.chaos._rules import Fault
from resilience.context import current_call_context
from resilience.errors import RejectReason
from resilience.events import CallInfo, CallOutcome, Observer
from resilience.interceptors import _metadata
from resilience.interceptors._client_call import ClientCall
from resilience.interceptors._guard import report
from resilience.interceptors._pipeline import (
    Pipeline,
    Rejection,
    breaker_rejection,
    deadline_rejection,
    passthrough_state,
    spent_timeout_rejection,
    state_of,
    tell_ended,
)
from resilience.interceptors._plugins import Plugins
from resilience.observability.tracing import CallTracer
from resilience.pipeline import Rejection as Refused
from resilience.policy import Policy

if TYPE_CHECKING:
    from resilience.chaos import FaultInjector

_CANCELLED = grpc.StatusCode.CANCELLED
_OK = grpc.StatusCode.OK
_monotonic = time.monotonic


class ClientPipeline(Pipeline):
    """The client side: admission, deadline, metadata and outcome of outgoing calls.

    ``injector``: the policy's fault injector (``faults``/``chaos`` sections), or None; the
    shells check it once per call and, when set, apply :meth:`client_fault` first."""

    __slots__ = ("_plugins", "injector")

    def __init__(
        self, policy: Policy | None, observers: Sequence[Observer] | None, clock: Clock
    ) -> None:
        super().__init__(policy, observers, clock, "client")
        self._plugins = Plugins(self.policy, server=False)
        self.injector: FaultInjector | None = self._plugins.injector

    def update_policy(self, policy: Policy) -> None:
        """Swap in ``policy`` (see :meth:`Pipeline.update_policy`) and its fault injector (the
        same one when its chaos sections are unchanged)."""
        plugins = self._plugins
        if isinstance(policy, Policy):  # else the base class raises TypeError
            plugins = Plugins(policy, plugins, server=False)
        super().update_policy(policy)
        self._plugins = plugins
        self.injector = plugins.injector

    def client_fault(self, method: str | bytes) -> Fault | None:
        """The injector's ``side = "client"`` fault for a call to ``method`` in the current
        traffic color, or None (also when the injector fails: a bug never fails a call)."""
        injector = self.injector
        if injector is None:
            return None
        name = method.decode("utf-8", "replace") if isinstance(method, bytes) else method
        try:
            return injector.pick("client", name, current_call_context().color)
        except Exception as exc:
            report("client fault injection", exc)
            return None

    def fault_rejection(
        self, method: str | bytes, fault: Fault, left: float | None = None
    ) -> Rejection | None:
        """The local rejection of a call that ``fault`` aborts, or whose caller's timeout its
        delay used up (``left``: the seconds :func:`~resilience.chaos._apply.delay_within` left
        of it; 0.0 ends the call DEADLINE_EXCEEDED, as the deadline would have); None for a
        delay the call outlives. Like a breaker drop, with reason ``fault``; observers and
        tracing hear of it."""
        code, message = fault.code, fault.message
        if code is None:
            if left is None or left > 0.0:
                return None
            code = grpc.StatusCode.DEADLINE_EXCEEDED
            message = (
                f"resilience: an injected delay of {fault.delay:g} s used up the call's timeout"
            )
        rejection = Rejection(
            code, RejectReason.FAULT.value, message, info=fault_info(fault, "client")
        )
        tracer = self.tracer_if_on()
        starters, enders = self.hearers
        if starters or enders or tracer is not None:
            state = state_of(self.registry, method)
            context = current_call_context()
            tier = state.settings.tier if context.tier is None else context.tier
            info = self.call_info(state.method, context.color, tier)
            for observer in starters:
                try:
                    observer.call_started(info)
                except Exception as exc:
                    report("observer call_started", exc)
            span = None if tracer is None else _start_span(tracer, info)
            _report_rejected(info, enders, tracer, span, rejection)
        return rejection

    def start(
        self, method: str | bytes, timeout: float | None, metadata: Any, streaming: bool
    ) -> ClientCall | Rejection:
        """Admit an outgoing call and compute its timeout and metadata (see module doc): the
        :class:`ClientCall` to send, or the :class:`Rejection` of a call the breaker drops
        (observers and tracing have then heard of its whole life)."""
        now = _monotonic()
        try:
            state = self.registry.state(method)
        except Exception as exc:
            state = passthrough_state(method, exc)
        context = current_call_context()
        settings = state.settings
        color = context.color
        tier = settings.tier if context.tier is None else context.tier
        tracer = self.tracer_if_on() if now >= self._tracer_checked else self._tracer_on
        starters, observers = self.hearers
        info = span = None
        if starters or observers or tracer is not None:
            info = self._infos.get((state.method, color, tier))
            if info is None:
                info = self.call_info(state.method, color, tier)
            for observer in starters:
                try:
                    observer.call_started(info)
                except Exception as exc:
                    report("observer call_started", exc)
            if tracer is not None:
                try:  # _start_span inlined: this is every traced call's path
                    span = tracer.start(info)
                except Exception as exc:
                    report("span start", exc)
        started = now if self._monotonic_clock else self.clock()
        inherited = None
        if context.deadline is not None:
            inherited = remaining_until(context.deadline, now)  # None: absurdly far, no deadline
            if inherited is not None and inherited <= 0.0:  # the served call is already over
                rejection = deadline_rejection(state.method)
                if info is not None:
                    _report_rejected(info, observers, tracer, span, rejection)
                return rejection
        if timeout is not None:
            try:
                spent = not timeout >= 0.0  # negative or NaN: already over
            except TypeError:  # not a number: gRPC raises its own error when it is sent
                spent = False
            if spent:
                rejection = spent_timeout_rejection(state.method)
                if info is not None:
                    _report_rejected(info, observers, tracer, span, rejection)
                return rejection
        inner = admitted = None
        admission = state.admission
        if admission is not None:  # breaker, then dynamic timeout: a stage that raises is skipped
            try:  # started: a reading of the registry's clock, the admission's
                got = admission.by_tier[tier](started, None)
            except Exception as exc:  # a misuse (TypeError) never fails the call
                report("client admission", exc)
            else:
                if isinstance(got, Refused):  # only the breaker refuses
                    rejection = breaker_rejection(state.method)
                    if info is not None:
                        _report_rejected(info, observers, tracer, span, rejection)
                    return rejection
                admitted = got
                if not streaming or state.timeout_streams:
                    try:
                        dynamic = got.timeout()
                    except Exception as exc:
                        report("client dynamic timeout", exc)
                    else:
                        if dynamic is not None and (timeout is None or dynamic < timeout):
                            timeout = dynamic
        if inherited is not None and (timeout is None or inherited < timeout):
            timeout = inherited
        if settings.propagate and (
            span is not None
            or color is not None
            or context.tier is not None
            or context.failover
            or get_current()  # a trace or baggage to carry
        ):  # else nothing to add: the caller's metadata object goes out as it came
            try:
                metadata = _metadata.outgoing(
                    metadata,
                    color=color,
                    tier=context.tier,  # only a chosen or inherited tier travels (see module doc)
                    failover=context.failover,
                    span=span,
                )
                inner = _metadata.inner_context(metadata, color)
            except _metadata.NotPairs:
                pass  # sent as the caller gave it: gRPC refuses it with its own error
            except Exception as exc:
                report("client metadata injection", exc)
        call = ClientCall(
            state,
            self.clock,
            started,
            timeout,
            metadata,
            info,
            observers,
            tracer,
            span,
            admitted,
        )
        call.inner_context = inner
        return call


def _start_span(tracer: CallTracer, info: CallInfo) -> Span | None:
    """The call's client span (None when tracing is off or starting it raised)."""
    try:
        return tracer.start(info)
    except Exception as exc:
        report("span start", exc)
        return None


def _report_rejected(
    info: CallInfo,
    observers: tuple[Observer, ...],
    tracer: CallTracer | None,
    span: Span | None,
    rejection: Rejection,
) -> None:
    """Tell observers and tracing that a call ended in a local ``rejection`` (after 0 s)."""
    tell_ended(info, CallOutcome(rejection.code, 0.0, rejection.reason), observers, tracer, span)
