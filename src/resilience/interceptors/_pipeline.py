"""Everything about a call that can be decided without I/O, shared by the sync and aio shells.

Client, per call (:meth:`ClientPipeline.start`): policy lookup -> breaker admission -> deadline
= min(dynamic timeout, caller's timeout, remaining deadline of the call being handled) -> the
outgoing metadata. Then, when the call ends (:meth:`ClientCall.end`): the status code feeds the
breaker and the dynamic timeout, and the observers hear of it.

Server, per call (:meth:`ServerPipeline.start`): policy lookup -> the caller's trace, color,
tier (trusted peers only), failover mark and deadline into one :class:`CallContext` -> overload
and limiter admission. Then, when the handler ends (:meth:`ServerCall.end`): the overload permit
is released with the latency and the observers hear of it.

The shells (client.py, server.py, aio_client.py, aio_server.py) only do the waiting: they turn a
:class:`Rejection` into a gRPC error and watch for the call's end. A bug in a policy, an observer
or the metadata code is logged (:mod:`._guard`) and the call proceeds without that part.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import grpc
from opentelemetry.context import Context as OtelContext

from resilience._clock import Clock
from resilience._events import CallInfo, CallOutcome, GaugeReading, Observer
from resilience._keys import PUSHBACK, REJECT
from resilience.algorithms import OverloadGuard
from resilience.context import EMPTY_CALL_CONTEXT, CallContext, current_call_context
from resilience.errors import RejectReason
from resilience.interceptors import _metadata
from resilience.interceptors._guard import report
from resilience.interceptors._registry import MethodState, Registry
from resilience.policy import Policy

_OK = grpc.StatusCode.OK
_CANCELLED = grpc.StatusCode.CANCELLED
_UNKNOWN = grpc.StatusCode.UNKNOWN
_RESOURCE_EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED


class Rejection:
    """A call refused locally: the status to end it with, and why (``reason``, a RejectReason
    value, also in ``trailing_metadata`` as ``x-resilience-reject``)."""

    __slots__ = ("code", "details", "reason", "trailing_metadata")

    def __init__(
        self, code: grpc.StatusCode, reason: str, details: str, retry_after: float | None = None
    ) -> None:
        self.code = code
        self.reason = reason
        self.details = details
        trailing: tuple[tuple[str, str], ...] = ((REJECT, reason),)
        if retry_after is not None and retry_after >= 0:
            trailing += ((PUSHBACK, str(math.ceil(retry_after * 1000))),)
        self.trailing_metadata = trailing

    def __repr__(self) -> str:
        return f"Rejection({self.code.name}, {self.details!r})"


BREAKER_REJECTION = Rejection(
    grpc.StatusCode.UNAVAILABLE, RejectReason.BREAKER.value, "resilience: rejected by breaker"
)


def _state_of(registry: Registry, method: str | bytes) -> MethodState:
    """The method's state; if building it fails (a policy or algorithm bug), a state with
    every policy off, so the call proceeds unprotected rather than failing."""
    try:
        return registry.state(method)
    except Exception as exc:
        report("policy lookup", exc)
        name = method.decode("utf-8", "replace") if isinstance(method, bytes) else method
        return MethodState.passthrough(name)


def _trusted(registry: Registry, context: Any) -> bool:
    try:
        return registry.policy.is_trusted_peer(context.peer())
    except Exception as exc:
        report("trusted peer check", exc)
        return False


def _notify_started(observers: Sequence[Observer], info: CallInfo) -> None:
    for observer in observers:
        try:
            observer.call_started(info)
        except Exception as exc:
            report("observer call_started", exc)


def _notify_ended(observers: Sequence[Observer], info: CallInfo, outcome: CallOutcome) -> None:
    for observer in observers:
        try:
            observer.call_ended(info, outcome)
        except Exception as exc:
            report("observer call_ended", exc)


class _Pipeline:
    """What both sides share: the current registry (swapped on reload), observers and clock."""

    __slots__ = ("clock", "observers", "registry")

    def __init__(
        self, policy: Policy | None, observers: Sequence[Observer], clock: Clock, side: str
    ) -> None:
        self.observers: tuple[Observer, ...] = tuple(observers)
        self.clock = clock
        self.registry = Registry(
            policy if policy is not None else Policy.default(), side=side, clock=clock
        )

    def update_policy(self, policy: Policy) -> None:
        """Replace the policy; calls in flight finish under the policy they started with."""
        if not isinstance(policy, Policy):
            raise TypeError(f"policy must be a resilience.Policy, got {policy!r}")
        self.registry = self.registry.reloaded(policy)

    @property
    def policy(self) -> Policy:
        return self.registry.policy

    def gauge_readings(self) -> list[GaugeReading]:
        return list(self.registry.gauge_readings())


class ClientCall:
    """One client call in flight: what to send (``timeout``, ``metadata``) or ``rejection``,
    and what :meth:`end` needs to record the outcome."""

    __slots__ = (
        "clock",
        "info",
        "metadata",
        "observers",
        "rejection",
        "started",
        "state",
        "timeout",
    )

    def __init__(self, state: MethodState, clock: Clock, observers: tuple[Observer, ...]) -> None:
        self.state = state
        self.clock = clock
        self.observers = observers
        self.info: CallInfo | None = None
        self.rejection: Rejection | None = None
        self.timeout: float | None = None
        self.metadata: Any = None
        self.started = 0.0

    def end(self, code: grpc.StatusCode) -> None:
        """Record the call's status: breaker and dynamic timeout (failure codes from the policy;
        a cancelled call says nothing about the callee's latency), then the observers."""
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
        if self.info is not None:
            _notify_ended(self.observers, self.info, CallOutcome(code, duration))


class ClientPipeline(_Pipeline):
    """The client side: admission, deadline, metadata and outcome of outgoing calls."""

    __slots__ = ()

    def __init__(self, policy: Policy | None, observers: Sequence[Observer], clock: Clock) -> None:
        super().__init__(policy, observers, clock, "client")

    def start(
        self, method: str | bytes, timeout: float | None, metadata: Any, streaming: bool
    ) -> ClientCall:
        """Admit an outgoing call and compute its timeout and metadata (see module doc)."""
        state = _state_of(self.registry, method)
        observers = self.observers
        call = ClientCall(state, self.clock, observers)
        context = current_call_context()
        settings = state.settings
        tier = settings.tier if context.tier is None else context.tier
        if observers:
            call.info = CallInfo("client", state.method, context.color, tier)
            _notify_started(observers, call.info)
        if state.breaker is not None and not self._admitted(state):
            call.rejection = BREAKER_REJECTION
            if call.info is not None:
                outcome = CallOutcome(BREAKER_REJECTION.code, 0.0, BREAKER_REJECTION.reason)
                _notify_ended(observers, call.info, outcome)
            return call
        if state.timeout is not None and (not streaming or state.timeout_streams):
            dynamic: float | None
            try:
                dynamic = state.timeout.timeout()
            except Exception as exc:
                report("client dynamic timeout", exc)
                dynamic = None
            if dynamic is not None and (timeout is None or dynamic < timeout):
                timeout = dynamic
        if context.deadline is not None:
            remaining = max(context.deadline - time.monotonic(), 0.0)
            timeout = remaining if timeout is None or remaining < timeout else timeout
        call.timeout = timeout
        if settings.propagate:
            try:
                metadata = _metadata.outgoing(
                    metadata,
                    color=context.color,
                    tier=tier,
                    failover=context.failover,
                )
            except Exception as exc:
                report("client metadata injection", exc)
        call.metadata = metadata
        call.started = self.clock()
        return call

    @staticmethod
    def _admitted(state: MethodState) -> bool:
        assert state.breaker is not None
        try:
            return state.breaker.try_acquire().allowed
        except Exception as exc:
            report("client breaker admission", exc)
            return True


class ServerCall:
    """One server call in flight: the :class:`CallContext` and OpenTelemetry context to run the
    handler under, or the ``rejection`` to end it with, and what :meth:`end` needs."""

    __slots__ = (
        "call_context",
        "clock",
        "info",
        "observers",
        "otel_context",
        "overload",
        "rejection",
        "started",
        "state",
    )

    def __init__(self, state: MethodState, clock: Clock, observers: tuple[Observer, ...]) -> None:
        self.state = state
        self.clock = clock
        self.observers = observers
        self.started = clock()
        self.info: CallInfo | None = None
        self.rejection: Rejection | None = None
        self.overload: OverloadGuard | None = None
        self.otel_context: OtelContext | None = None
        self.call_context = EMPTY_CALL_CONTEXT

    def end(self, code: grpc.StatusCode, exception: BaseException | None = None) -> None:
        """Release the overload permit with the call's latency and tell the observers."""
        duration = self.clock() - self.started
        if self.overload is not None:
            try:
                self.overload.release(duration)
            except Exception as exc:
                report("server overload release", exc)
        if self.info is not None:
            reason = None if self.rejection is None else self.rejection.reason
            _notify_ended(self.observers, self.info, CallOutcome(code, duration, reason, exception))


class ServerPipeline(_Pipeline):
    """The server side: context extraction, admission and outcome of incoming calls."""

    __slots__ = ()

    def __init__(self, policy: Policy | None, observers: Sequence[Observer], clock: Clock) -> None:
        super().__init__(policy, observers, clock, "server")

    def start(self, method: str, context: Any) -> ServerCall:
        """Read the call's context: trace, color, tier, failover mark, deadline. ``context``:
        the grpc (or grpc.aio) servicer context, for ``invocation_metadata()``, ``peer()`` and
        ``time_remaining()``. Admission is :meth:`admit`, once the call's hooks have run."""
        observers = self.observers
        registry = self.registry
        state = _state_of(registry, method)
        call = ServerCall(state, self.clock, observers)
        settings = state.settings
        found = _metadata.NOTHING
        if settings.propagate:
            try:
                found = _metadata.incoming(context.invocation_metadata())
                call.otel_context = _metadata.extract_context(found)
            except Exception as exc:
                report("server metadata extraction", exc)
        tier = settings.tier
        if found.tier is not None and _trusted(registry, context):
            tier = found.tier
        remaining = context.time_remaining()
        deadline = None if remaining is None else time.monotonic() + remaining
        call.call_context = CallContext(
            color=found.color, tier=tier, deadline=deadline, failover=found.failover
        )
        if observers:
            call.info = CallInfo("server", state.method, found.color, tier)
            _notify_started(observers, call.info)
        return call

    def admit(self, call: ServerCall) -> Rejection | None:
        """Overload guard, then rate limit: the call's :class:`Rejection`, or None to proceed.
        An admitted call holds an overload permit that :meth:`ServerCall.end` releases."""
        state = call.state
        tier = call.call_context.tier or state.settings.tier
        if state.overload is not None:
            call.rejection = self._overload(state, call, tier)
        if call.rejection is None and state.limiter is not None:
            call.rejection = self._limit(state, tier)
        return call.rejection

    @staticmethod
    def _overload(state: MethodState, call: ServerCall, tier: int) -> Rejection | None:
        guard = state.overload
        assert guard is not None
        try:
            decision = guard.try_acquire(tier)
        except Exception as exc:
            report("server overload admission", exc)
            return None
        if decision.allowed:
            call.overload = guard
            return None
        return Rejection(
            _RESOURCE_EXHAUSTED,
            RejectReason.OVERLOAD.value,
            f"resilience: rejected by overload (tier {tier} shed while CPU is above its "
            f"threshold on {state.method})",
            decision.retry_after,
        )

    @staticmethod
    def _limit(state: MethodState, tier: int) -> Rejection | None:
        assert state.limiter is not None
        try:
            decision = state.limiter.try_acquire(tier)
        except Exception as exc:
            report("server limiter admission", exc)
            return None
        if decision.allowed:
            return None
        reason = decision.reason or RejectReason.RATE_LIMIT.value
        detail = (
            state.limit_text
            if reason != RejectReason.SHED.value
            else f"tier {tier}; {state.limit_text}"
        )
        return Rejection(
            _RESOURCE_EXHAUSTED,
            reason,
            f"resilience: rejected by {reason} ({detail})",
            decision.retry_after,
        )
