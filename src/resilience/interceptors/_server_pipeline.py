"""The server side of the core: per call, policy lookup -> the caller's trace, color, tier
(trusted peers only), failover mark and deadline into one :class:`CallContext` (plus the
OpenTelemetry context with the call's span) -> [hooks, in the shells] -> overload guard and
rate limit admission; when the handler ends, the overload permit is released with the latency
and observers and tracing hear of it."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import grpc
from opentelemetry.context import Context as OtelContext

from resilience._clock import Clock
from resilience._events import CallOutcome, Observer
from resilience.algorithms import OverloadGuard
from resilience.algorithms._decision import Decision
from resilience.context import EMPTY_CALL_CONTEXT, CallContext
from resilience.errors import RejectReason
from resilience.interceptors import _metadata
from resilience.interceptors._guard import report
from resilience.interceptors._pipeline import Pipeline, Rejection, Report, state_of
from resilience.interceptors._plugins import Plugins
from resilience.interceptors._registry import MethodState, Registry
from resilience.interceptors._stores import check_policy_stores
from resilience.policy import Policy

_RESOURCE_EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED


class ServerCall:
    """One server call in flight: the :class:`CallContext` and OpenTelemetry context to run the
    handler under, or the ``rejection`` to end it with, and what :meth:`end` needs."""

    __slots__ = (
        "call_context",
        "clock",
        "otel_context",
        "overload",
        "rejection",
        "report",
        "started",
        "state",
    )

    def __init__(self, state: MethodState, clock: Clock) -> None:
        self.state = state
        self.clock = clock
        self.started = clock()
        self.report: Report | None = None
        self.rejection: Rejection | None = None
        self.overload: OverloadGuard | None = None
        self.otel_context: OtelContext | None = None
        self.call_context = EMPTY_CALL_CONTEXT

    def end(self, code: grpc.StatusCode, exception: BaseException | None = None) -> None:
        """Release the overload permit with the call's latency; tell observers and tracing."""
        duration = self.clock() - self.started
        if self.overload is not None:
            try:
                self.overload.release(duration)
            except Exception as exc:
                report("server overload release", exc)
        if self.report is not None:
            reason = None if self.rejection is None else self.rejection.reason
            self.report.ended(CallOutcome(code, duration, reason, exception))


class ServerPipeline(Pipeline):
    """The server side: context extraction, admission and outcome of incoming calls.

    Installing a policy (construction, :meth:`update_policy`) first PINGs each Redis store its
    rate limits name, once per URL (see :func:`._stores.check_policy_stores`), and builds the
    fault injector and traffic recorder it asks for (``plugins``; the shells run their hooks)."""

    __slots__ = ("_checked_stores", "plugins")

    def __init__(
        self,
        policy: Policy | None,
        observers: Sequence[Observer] | None,
        clock: Clock,
        *,
        aio: bool = False,
    ) -> None:
        self._checked_stores: set[str] = set()
        if policy is not None:
            check_policy_stores(policy, self._checked_stores)
        super().__init__(policy, observers, clock, "server", aio)
        self.plugins = Plugins(self.policy, server=True)

    def update_policy(self, policy: Policy) -> None:
        """Check the new policy's stores, then swap it in (see :meth:`Pipeline.update_policy`);
        a fail-closed limit on an unreachable store raises ConfigError and keeps the old one."""
        plugins = self.plugins
        if isinstance(policy, Policy):  # else the base class raises TypeError
            check_policy_stores(policy, self._checked_stores)
            plugins = Plugins(policy, plugins, server=True)
        super().update_policy(policy)
        replaced, self.plugins = self.plugins, plugins
        if replaced.recorder is not None and replaced.recorder is not plugins.recorder:
            replaced.recorder.close()  # a call still in flight reopens it to append

    def close(self) -> None:
        """Stop the background work of the policy's store-backed limits (see Registry.close)
        and close the traffic recording file (a late call reopens it to append)."""
        self.registry.close()
        if self.plugins.recorder is not None:
            self.plugins.recorder.close()

    def start(self, method: str, context: Any) -> ServerCall:
        """Read the call's context: trace, color, tier, failover mark, deadline. ``context``:
        the grpc (or grpc.aio) servicer context, for ``invocation_metadata()``, ``peer()`` and
        ``time_remaining()``. Admission is :meth:`admit`, once the call's hooks have run."""
        registry = self.registry
        state = state_of(registry, method)
        call = ServerCall(state, self.clock)
        settings = state.settings
        found = _metadata.NOTHING
        if settings.propagate:
            try:
                found = _metadata.incoming(context.invocation_metadata())
                if found.carrier is not None:
                    call.otel_context = _metadata.extract_context(found)
            except Exception as exc:
                report("server metadata extraction", exc)
        tier = settings.tier
        if found.tier is not None and found.tier != tier and _trusted(registry, context):
            tier = found.tier
        remaining = context.time_remaining()
        deadline = None if remaining is None else time.monotonic() + remaining
        call.call_context = CallContext(found.color, tier, deadline, found.failover, state.method)
        tracer = self.tracer_if_on()
        if self.observers or tracer is not None:
            info = self.call_info(state.method, found.color, tier)
            if tracer is None:
                call.report = Report(info, self.observers, None)
            else:  # the span's parent: the caller's trace, never the worker's leftovers
                parent = call.otel_context if call.otel_context is not None else OtelContext()
                call.report = Report(info, self.observers, tracer, parent)
                if call.report.span is not None:
                    call.otel_context = tracer.context_with(call.report.span, parent)
        return call

    def admit(self, call: ServerCall) -> Rejection | None:
        """Overload guard, then rate limit: the call's :class:`Rejection`, or None to proceed.
        An admitted call holds an overload permit that :meth:`ServerCall.end` releases."""
        state = call.state
        tier = call.call_context.tier or state.settings.tier
        if state.overload is not None:
            call.rejection = _overload(state, call, tier)
        if call.rejection is None and state.limiter is not None:
            call.rejection = _limit(state, tier)
        return call.rejection

    async def admit_awaited(self, call: ServerCall) -> Rejection | None:
        """The rate limit of an aio server's call whose limiter is awaited (exact mode on a
        shared store; ``call.state.awaited_limiter`` is set): run after :meth:`admit` let the
        call through. The store's round trip yields to the event loop instead of blocking it."""
        state = call.state
        limiter = state.awaited_limiter
        assert limiter is not None
        tier = call.call_context.tier or state.settings.tier
        try:
            decision = await limiter.try_acquire(tier)
        except Exception as exc:
            report("server limiter admission", exc)
            return None
        call.rejection = _limit_decided(state, tier, decision)
        return call.rejection


def _trusted(registry: Registry, context: Any) -> bool:
    try:
        return registry.policy.is_trusted_peer(context.peer())
    except Exception as exc:
        report("trusted peer check", exc)
        return False


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


def _limit(state: MethodState, tier: int) -> Rejection | None:
    assert state.limiter is not None
    try:
        decision = state.limiter.try_acquire(tier)
    except Exception as exc:
        report("server limiter admission", exc)
        return None
    return _limit_decided(state, tier, decision)


def _limit_decided(state: MethodState, tier: int, decision: Decision) -> Rejection | None:
    if decision.allowed:
        return None
    reason = decision.reason or RejectReason.RATE_LIMIT.value
    shed = reason == RejectReason.SHED.value
    detail = f"tier {tier}; {state.limit_text}" if shed else state.limit_text
    return Rejection(
        _RESOURCE_EXHAUSTED,
        reason,
        f"resilience: rejected by {reason} ({detail})",
        decision.retry_after,
    )
