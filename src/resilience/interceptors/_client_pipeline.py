"""The client side of the core: per call, policy lookup -> breaker admission -> deadline =
min(dynamic timeout, caller's timeout, remaining deadline of the call being handled) ->
outgoing metadata (trace, baggage color, tier, failover mark); when the call ends, its status
feeds the breaker and the dynamic timeout, and observers and tracing hear of it."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import grpc

from resilience._clock import Clock
from resilience._events import CallOutcome, Observer
from resilience.context import current_call_context
from resilience.interceptors import _metadata
from resilience.interceptors._guard import report
from resilience.interceptors._pipeline import (
    BREAKER_REJECTION,
    Pipeline,
    Rejection,
    Report,
    state_of,
)
from resilience.interceptors._registry import MethodState
from resilience.policy import Policy

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
    """The client side: admission, deadline, metadata and outcome of outgoing calls."""

    __slots__ = ()

    def __init__(
        self, policy: Policy | None, observers: Sequence[Observer] | None, clock: Clock
    ) -> None:
        super().__init__(policy, observers, clock, "client")

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
        if settings.propagate:
            span = None if call.report is None else call.report.span
            try:
                metadata = _metadata.outgoing(
                    metadata,
                    color=context.color,
                    tier=tier,
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
