"""One admitted client call in flight (:class:`ClientCall`): what it sends and how its end is
recorded: the method's admission stages ended with the outcome (breaker, dynamic timeout), its
bulkhead place freed, the hedging latency estimate fed, observers and span told. Made by
:meth:`._client_pipeline.ClientPipeline.start`."""

from __future__ import annotations

from typing import Any

import grpc
from opentelemetry.context import Context as OtelContext
from opentelemetry.trace import Span

from resilience._base.clock import Clock
from resilience.events import CallInfo, CallOutcome, Observer
from resilience.interceptors._guard import report
from resilience.interceptors._method_state import MethodState
from resilience.interceptors._pipeline import tell_ended
from resilience.observability.tracing import CallTracer
from resilience.pipeline import Kind, Outcome, Permit
from resilience.pipeline._admission import Admitted
from resilience.pipeline._core import NOT_RUN

_CANCELLED = grpc.StatusCode.CANCELLED
_OK = grpc.StatusCode.OK

CALLER_FAULTS = frozenset({"Exception iterating requests!", "Exception serializing request!"})
"""The details of the statuses (UNKNOWN, INTERNAL) sync gRPC gives a call it ends itself for
the caller's fault, before the callee answered: the request iterator raised, a request did
not serialize. The callee only saw the call cancelled."""

OVERSIZED = "message larger than max"
"""In the details of the RESOURCE_EXHAUSTED gRPC gives a message over a size limit (``Sent
message larger than max``, ``Received message larger than max``, by the client or by the
server before its handler runs): a property of the message and the limits, not of the
callee's health."""


def not_the_callees(details: object) -> bool:
    """Whether a failed call's ``details`` say gRPC ended it for the caller's fault or for a
    message's size (:data:`CALLER_FAULTS`, :data:`OVERSIZED`): the breaker and the dynamic
    timeout judge it as the caller's cancel."""
    return isinstance(details, str) and (details in CALLER_FAULTS or OVERSIZED in details)


class ClientCall:
    """One admitted client call in flight: what to send (``timeout``, ``metadata``) and what
    :meth:`end` needs to record its outcome. ``info`` is the call's CallInfo when observers
    or tracing hear of it (``observers``: those that hear of client calls' ends; ``span``),
    else None: the call is its own report."""

    __slots__ = (
        "admitted",
        "clock",
        "info",
        "inner_context",
        "metadata",
        "observers",
        "slot",
        "span",
        "started",
        "state",
        "timeout",
        "tracer",
    )

    def __init__(
        self,
        state: MethodState,
        clock: Clock,
        started: float,
        timeout: float | None,
        metadata: Any,
        info: CallInfo | None,
        observers: tuple[Observer, ...],
        tracer: CallTracer | None,
        span: Span | None,
        admitted: Admitted | None = None,
    ) -> None:
        self.state = state
        self.clock = clock
        self.started = started
        self.timeout = timeout
        self.metadata = metadata
        self.info = info
        self.observers = observers
        self.tracer = tracer
        self.span = span
        self.inner_context: OtelContext | None = None
        """The OpenTelemetry context current while the call passes the interceptors inside
        ours (see :func:`_metadata.inner_context`), or None for the caller's own."""
        self.slot: Permit | None = None
        """The call's place in the method's bulkhead, freed when the call ends."""
        self.admitted = admitted
        """The call's admission by the method's stages (breaker, dynamic timeout), ended
        once with the call's status."""

    def end(self, code: grpc.StatusCode, judged: grpc.StatusCode | None = None) -> None:
        """Record the call's status: its admission ends (breaker and dynamic timeout) with
        SUCCESS, or FAILURE for a code in the policy's failure codes; a cancelled call is not
        fed to the dynamic timeout (it says nothing of the callee's latency) and the breaker
        counts it as its failure codes say (a success by default); then the hedging latency
        estimate (OK calls), observers and span. ``judged``: the code the breaker, dynamic
        timeout and bulkhead record instead of ``code`` (observers still hear ``code``)."""
        duration = self.clock() - self.started
        state = self.state
        seen = code  # what observers hear; ``code`` is what the stages record
        if judged is not None:
            code = judged
        slot = self.slot
        if slot is not None:
            self.slot = None
            try:
                slot.end(Outcome(Kind.SUCCESS if code is _OK else Kind.FAILURE, duration))
            except Exception as exc:
                report("client bulkhead end", exc)
        admitted = self.admitted
        try:
            if admitted is not None:
                self.admitted = None
                if code is _OK:  # never a failure code (the policy refuses it): tested first,
                    admitted.end_ok(duration)  # it spares the enum's Python-level __hash__
                elif code is _CANCELLED:  # the stages record nothing of a cancelled call, but
                    admitted.end(Outcome(Kind.CANCELLED, duration))  # the breaker counts it:
                    if state.breaker is not None:  # each hedge attempt is (docs/policy.md)
                        state.breaker.record(code not in state.failure_codes)
                else:
                    failed = code in state.failure_codes
                    admitted.end(Outcome(Kind.FAILURE if failed else Kind.SUCCESS, duration))
            if state.hedge is not None and code is _OK:  # the latency its delay derives from
                state.hedge.estimate.observe(duration)
        except Exception as exc:
            report("client outcome recording", exc)
        info = self.info
        if info is None:
            return
        outcome = CallOutcome(seen, duration)
        tell_ended(info, outcome, self.observers, self.tracer, self.span)

    def end_unsent(self, code: grpc.StatusCode, reason: str | None = None) -> None:
        """End a call that was never sent (refused by its bulkhead, ``reason``; cancelled
        while it waited in the queue): observers and span hear of it; the breaker and the
        dynamic timeout do not (its admission ends NOT_RUN: the callee was never asked)."""
        slot = self.slot
        admitted = self.admitted
        self.slot = self.admitted = None
        try:
            if slot is not None:
                slot.end(NOT_RUN)
        except Exception as exc:
            report("client bulkhead end", exc)
        try:
            if admitted is not None:
                admitted.end(NOT_RUN)
        except Exception as exc:
            report("client outcome recording", exc)
        info = self.info
        if info is not None:
            outcome = CallOutcome(code, self.clock() - self.started, reason)
            tell_ended(info, outcome, self.observers, self.tracer, self.span)

    def future_done(self, future: Any) -> None:
        """The done callback of a sync call's future: record its status (see
        :meth:`failed` for one that did not end OK or CANCELLED)."""
        code = future.code()
        if code is _OK or code is _CANCELLED:
            self.end(code)
        else:
            self.failed(future, code)

    def failed(self, error: Any, code: grpc.StatusCode | None = None) -> None:
        """Record the end of a sync call that failed with ``error`` (a ``grpc.RpcError`` or
        an ended ``grpc.Future``; ``code``: its code when read already). A call gRPC ended
        itself for the caller's own fault (its request iterator raised, a request did not
        serialize) or for a message over a size limit (see :func:`not_the_callees`) is
        recorded with the code the caller got and judged as the caller's cancel: the callee
        was not at fault."""
        if code is None:
            read = getattr(error, "code", None)
            code = read() if callable(read) else grpc.StatusCode.UNKNOWN
        details = getattr(error, "details", None)
        try:
            fault = callable(details) and not_the_callees(details())
        except Exception:  # a details() that raises: judged by its code
            fault = False
        self.end(code, _CANCELLED if fault else None)
