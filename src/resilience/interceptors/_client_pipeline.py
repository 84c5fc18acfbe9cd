"""The client side of the core: per call, policy lookup -> breaker admission -> deadline =
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
rebuilt per call on aio channels."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import grpc
from opentelemetry.context import get_current

from resilience._chaos_rules import Fault
from resilience._clock import Clock
from resilience._events import CallOutcome, Observer
from resilience.context import current_call_context
from resilience.errors import RejectReason
from resilience.interceptors import _metadata
from resilience.interceptors._guard import report
from resilience.interceptors._pipeline import (
    BREAKER_REJECTION,
    Pipeline,
    Rejection,
    Report,
    state_of,
)
from resilience.interceptors._plugins import Plugins
from resilience.interceptors._registry import MethodState
from resilience.policy import Policy

if TYPE_CHECKING:
    from resilience.chaos import FaultInjector

_CANCELLED = grpc.StatusCode.CANCELLED


class ClientCall:
    """One client call in flight: what to send (``timeout``, ``metadata``) or ``rejection``,
    and what :meth:`end` needs to record the outcome."""

    __slots__ = ("clock", "metadata", "rejection", "report", "started", "state", "timeout")

    def __init__(self, state: MethodState, clock: Clock) -> None:
        self.state = state
        self.clock = clock
        self.report: Report | None = None
        self.rejection: Rejection | None = None
        self.timeout: float | None = None
        self.metadata: Any = None
        self.started = 0.0

    def end(self, code: grpc.StatusCode) -> None:
        """Record the call's status: breaker and dynamic timeout (failure codes from the policy;
        a cancelled call says nothing about the callee's latency), then observers and span."""
        duration = self.clock() - self.started
        state = self.state
        ok = code not in state.failure_codes
        try:
            if state.breaker is not None:
                state.breaker.record(ok)
            if state.timeout is not None and code is not _CANCELLED:
                state.timeout.observe(duration, ok)
        except Exception as exc:
            report("client outcome recording", exc)
        if self.report is not None:
            self.report.ended(CallOutcome(code, duration))


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

    def fault_rejection(self, method: str | bytes, fault: Fault) -> Rejection | None:
        """The local rejection of a call that ``fault`` aborts (None for a delay only): like a
        breaker drop, with the fault's status and message and reason ``fault``; observers and
        tracing hear of it."""
        if fault.code is None:
            return None
        rejection = Rejection(fault.code, RejectReason.FAULT.value, fault.message)
        tracer = self.tracer_if_on()
        if self.observers or tracer is not None:
            state = state_of(self.registry, method)
            context = current_call_context()
            tier = state.settings.tier if context.tier is None else context.tier
            info = self.call_info(state.method, context.color, tier)
            Report(info, self.observers, tracer).ended(
                CallOutcome(rejection.code, 0.0, rejection.reason)
            )
        return rejection

    def start(
        self, method: str | bytes, timeout: float | None, metadata: Any, streaming: bool
    ) -> ClientCall:
        """Admit an outgoing call and compute its timeout and metadata (see module doc)."""
        state = state_of(self.registry, method)
        call = ClientCall(state, self.clock)
        context = current_call_context()
        settings = state.settings
        tier = settings.tier if context.tier is None else context.tier
        tracer = self.tracer_if_on()
        if self.observers or tracer is not None:
            info = self.call_info(state.method, context.color, tier)
            call.report = Report(info, self.observers, tracer)
        if state.breaker is not None and not _admitted(state):
            call.rejection = BREAKER_REJECTION
            if call.report is not None:
                rejected = BREAKER_REJECTION
                call.report.ended(CallOutcome(rejected.code, 0.0, rejected.reason))
            return call
        if state.timeout is not None and (not streaming or state.timeout_streams):
            dynamic = _dynamic_timeout(state)
            if dynamic is not None and (timeout is None or dynamic < timeout):
                timeout = dynamic
        if context.deadline is not None:
            remaining = max(context.deadline - time.monotonic(), 0.0)
            timeout = remaining if timeout is None or remaining < timeout else timeout
        call.timeout = timeout
        span = None if call.report is None else call.report.span
        if settings.propagate and (
            span is not None
            or context.color is not None
            or context.tier is not None
            or context.failover
            or get_current()  # a trace or baggage to carry
        ):  # else nothing to add: the caller's metadata object goes out as it came
            try:
                metadata = _metadata.outgoing(
                    metadata,
                    color=context.color,
                    tier=context.tier,  # only a chosen or inherited tier travels (see module doc)
                    failover=context.failover,
                    span=span,
                )
            except Exception as exc:
                report("client metadata injection", exc)
        call.metadata = metadata
        call.started = self.clock()
        return call


def _admitted(state: MethodState) -> bool:
    assert state.breaker is not None
    try:
        return state.breaker.try_acquire().allowed
    except Exception as exc:
        report("client breaker admission", exc)
        return True


def _dynamic_timeout(state: MethodState) -> float | None:
    assert state.timeout is not None
    try:
        return state.timeout.timeout()
    except Exception as exc:
        report("client dynamic timeout", exc)
        return None
