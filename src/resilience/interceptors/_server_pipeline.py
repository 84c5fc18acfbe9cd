"""The server side of the core: per call, policy lookup -> the caller's trace, color, tier
(trusted peers only), failover mark and deadline into one :class:`CallContext` (plus the
OpenTelemetry context with the call's span) -> [hooks, in the shells] -> overload guard and
rate limit admission, with the rejections they end a call with. The call in flight and its
end (permits released with the latency, observers and tracing told) are
:class:`._server_call.ServerCall`'s."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import grpc
from opentelemetry.context import Context as OtelContext
from opentelemetry.trace import set_span_in_context

from resilience._base.clock import Clock, finite_remaining
from resilience.context import CallContext
from resilience.errors import RejectReason
from resilience.events import CallInfo, Observer
from resilience.interceptors import _metadata
from resilience.interceptors._callers import caller_value
from resilience.interceptors._guard import release, report
from resilience.interceptors._method_state import MethodState
from resilience.interceptors._pipeline import Pipeline, Rejection, passthrough_state
from resilience.interceptors._plugins import Plugins
from resilience.interceptors._registry import Registry
from resilience.interceptors._server_call import ServerCall
from resilience.interceptors._server_limits import OVERLOAD
from resilience.interceptors._stores import check_policy_stores
from resilience.observability.tracing import CallTracer
from resilience.pipeline import Rejection as _Refused
from resilience.policy import Policy
from resilience.profiling import _calls as _profiled

_RESOURCE_EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
_monotonic = time.monotonic


class ServerPipeline(Pipeline):
    """The server side: context extraction, admission and outcome of incoming calls.

    Installing a policy (construction, :meth:`update_policy`) first PINGs each Redis store its
    rate limits name, once per URL (see :func:`._stores.check_policy_stores`), and builds the
    fault injector and traffic recorder it asks for (``plugins``; the shells run their hooks)."""

    __slots__ = ("_aio", "_checked_stores", "plugins")

    def __init__(
        self,
        policy: Policy | None,
        observers: Sequence[Observer] | None,
        clock: Clock,
        *,
        aio: bool = False,
    ) -> None:
        self._checked_stores: set[str] = set()
        self._aio = aio
        if policy is not None:
            check_policy_stores(policy, self._checked_stores)
        super().__init__(policy, observers, clock, "server", aio)
        self.plugins = Plugins(self.policy, server=True)

    def update_policy(self, policy: Policy) -> None:
        """Check the new policy's stores, then swap it in (see :meth:`Pipeline.update_policy`);
        a fail-closed limit on an unreachable store raises ConfigError and keeps the old one.
        Once the new policy is in force, the old one's resources it no longer uses are closed;
        a close that fails (the old recording file on a full disk) is logged, never raised."""
        plugins = self.plugins
        if isinstance(policy, Policy):  # else the base class raises TypeError
            check_policy_stores(policy, self._checked_stores)
            plugins = Plugins(policy, plugins, server=True)
        super().update_policy(policy)
        replaced, self.plugins = self.plugins, plugins
        if replaced.recorder is not None and replaced.recorder is not plugins.recorder:
            # a call still in flight reopens it to append
            release("the replaced policy's traffic recording file", replaced.recorder.close)

    def close(self) -> None:
        """Stop the background work of the policy's store-backed limits (see Registry.close)
        and close the traffic recording file (a late call reopens it to append). Never
        raises: a close that fails is logged."""
        self.registry.close()
        if self.plugins.recorder is not None:
            release("the traffic recording file", self.plugins.recorder.close)

    def start(self, method: str, context: Any) -> ServerCall:
        """Read the call's context: trace, color, tier, failover mark, deadline; tell observers
        and tracing that it started. ``context``: the grpc (or grpc.aio) servicer context, for
        ``invocation_metadata()``, ``peer()`` and ``time_remaining()``. Admission is
        :meth:`admit`, once the call's hooks have run.

        One straight path with one clock read (the deadline's, the call's start when the
        clock is the default one, and the tracer re-check's): a server call's cost is mostly
        the code and data it touches with cold caches between two network waits."""
        remaining = finite_remaining(context.time_remaining())  # sync: 9.2e18 s = none
        now = _monotonic()
        registry = self.registry
        try:
            state = registry.state(method)
        except Exception as exc:
            state = passthrough_state(method, exc)
        settings = state.settings
        found = _metadata.NOTHING
        otel_context = None
        if settings.propagate:
            try:
                found = _metadata.incoming(context.invocation_metadata())
                if found.carrier is not None:
                    otel_context = _metadata.extract_context(found)
            except Exception as exc:
                report("server metadata extraction", exc)
        tier = settings.tier
        if found.tier is not None and found.tier != tier and _trusted(registry, context):
            tier = found.tier
        call = ServerCall(
            state,
            self.clock,
            now if self._monotonic_clock else self.clock(),
            CallContext(
                found.color,
                tier,
                None if remaining is None else now + remaining,
                found.failover,
                state.method,
            ),
            otel_context,
        )
        if _profiled.armed:  # a profiler labels samples with this call
            call.profiled = _profiled.begin(call, self._aio)
        if state.caller_source is not None:
            try:
                call.caller = caller_value(
                    state.caller_source, context.peer(), found.color, context.invocation_metadata()
                )
            except Exception as exc:
                report("per-caller limit key", exc)
        tracer = self.tracer_if_on() if now >= self._tracer_checked else self._tracer_on
        starters, enders = self.hearers
        if starters or enders or tracer is not None:
            info = self._infos.get((state.method, found.color, tier))
            if info is None:
                info = self.call_info(state.method, found.color, tier)
            call.info = info
            call.observers = enders
            for observer in starters:
                try:
                    observer.call_started(info)
                except Exception as exc:
                    report("observer call_started", exc)
            if tracer is not None:
                _start_span(call, tracer, info)
        return call

    def admit(self, call: ServerCall) -> Rejection | None:
        """The method's admission stages (overload guard, then rate limit; see
        :func:`._server_limits.server_admission`): the call's :class:`Rejection`, or None to
        proceed. An admitted call holds what :meth:`ServerCall.end` ends. A stage that raises
        is logged and skipped. A method whose limit is awaited is admitted by
        :meth:`admit_awaited` instead (this returns None for it)."""
        state = call.state
        admission = state.admission
        if admission is None or state.awaited_limiter is not None:
            return None
        tier = call.call_context.tier or state.settings.tier
        try:
            got = admission.by_tier[tier](admission.clock(), call.caller)
        except Exception as exc:  # a misuse (TypeError) never fails the call
            report("server admission", exc)
            return None
        if isinstance(got, _Refused):
            call.rejection = _rejected(state, tier, got)
            return call.rejection
        call.admitted = got
        return None

    async def admit_awaited(self, call: ServerCall) -> Rejection | None:
        """The admission of an aio server's call whose rate limit is awaited (exact mode on a
        shared store; ``call.state.awaited_limiter`` is set): overload guard, then the limit,
        whose store round trip yields to the event loop instead of blocking it."""
        state = call.state
        admission = state.admission
        assert admission is not None
        tier = call.call_context.tier or state.settings.tier
        try:
            got = await admission.aadmit(tier, call.caller)
        except Exception as exc:
            report("server admission", exc)
            return None
        if isinstance(got, _Refused):
            call.rejection = _rejected(state, tier, got)
            return call.rejection
        call.admitted = got
        return None


def _trusted(registry: Registry, context: Any) -> bool:
    try:
        return registry.policy.is_trusted_peer(context.peer())
    except Exception as exc:
        report("trusted peer check", exc)
        return False


def _start_span(call: ServerCall, tracer: CallTracer, info: CallInfo) -> None:
    """Start the call's server span under the caller's trace (never the worker's leftovers)
    and run the handler under it."""
    call.tracer = tracer
    parent = call.otel_context if call.otel_context is not None else OtelContext()
    try:
        call.span = tracer.start(info, parent=parent)
    except Exception as exc:
        report("span start", exc)
        return
    if call.span is not None:  # what CallTracer.context_with gives, one call less
        call.otel_context = set_span_in_context(call.span, parent)


def _rejected(state: MethodState, tier: int, refused: _Refused) -> Rejection:
    """The gRPC rejection of a call a stage refused, by the stage that refused it."""
    if refused.stage == OVERLOAD:
        return _overloaded(state, tier, refused.retry_after)
    return _limit_decided(state, tier, refused.reason, refused.retry_after)


def _overloaded(state: MethodState, tier: int, retry_after: float | None) -> Rejection:
    """RESOURCE_EXHAUSTED by the overload guard: ErrorInfo OVERLOADED with the method and tier,
    and a RetryInfo of the guard's window (the CPU estimate needs about that long to change)."""
    overload = state.settings.overload
    return Rejection(
        _RESOURCE_EXHAUSTED,
        RejectReason.OVERLOAD.value,
        f"resilience: rejected by overload (tier {tier} shed while CPU is above its "
        f"threshold on {state.method})",
        retry_after,
        info={"method": state.method, "tier": str(tier)},
        retry_delay=overload.window if overload is not None else None,
    )


def _limit_decided(
    state: MethodState, tier: int, reason: str, retry_after: float | None
) -> Rejection:
    """RESOURCE_EXHAUSTED by the rate limit: ErrorInfo RATE_LIMITED (or SHED, a tier shed by a
    tiered limit) with the method, the limit's key and the tier (and the caller key's source
    for a per-caller quota, never its value), a RetryInfo (the limiter's retry-after; for a
    shed tier, which gets no pushback, the limit's window: the demand that shed it is measured
    over one window) and a QuotaFailure naming the limit."""
    limit = state.settings.rate_limit
    shed = reason == RejectReason.SHED.value
    detail = f"tier {tier}; {state.limit_text}" if shed else state.limit_text
    key = (limit.key if limit is not None else None) or state.method
    info = {"method": state.method, "limitKey": key, "tier": str(tier)}
    if limit is not None:
        info["limitPerWindow"] = str(limit.limit)
        info["windowSeconds"] = f"{limit.window:g}"
    if state.caller_source is not None:
        info["caller"] = state.caller_source  # where the caller was read, never its value
    retry_delay = limit.window if shed and limit is not None else None
    return Rejection(
        _RESOURCE_EXHAUSTED,
        reason,
        f"resilience: rejected by {reason} ({detail})",
        retry_after,
        info=info,
        retry_delay=retry_delay,
        quota=(f"limit:{key}", state.limit_text),
    )
