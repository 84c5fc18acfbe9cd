"""The I/O-free core both sides share, for sync and aio alike: local rejections, the policy
state of a method, the CallInfo cache and the tracer check. Each side's call object is its
own report to observers and tracing (one object per call: :class:`._client_pipeline.ClientCall`,
:class:`._server_call.ServerCall`).

The per-side cores are :mod:`._client_pipeline` and :mod:`._server_pipeline`; the shells
(client.py, server.py, aio_client.py, aio_server.py) only do the waiting: they turn a
:class:`Rejection` into a gRPC error and watch for the call's end. A bug in a policy, an
observer or the metadata code is logged (:mod:`._guard`) and the call proceeds without it.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Mapping, Sequence

import grpc
from opentelemetry.trace import Span

from resilience._base.clock import Clock
from resilience._base.details import details_trailer
from resilience._base.interest_watch import watch as watch_interest
from resilience._base.keys import PUSHBACK, REJECT
from resilience.errors import RejectReason
from resilience.events import CallInfo, CallOutcome, GaugeReading, Observer, Side, hearing
from resilience.interceptors._guard import report
from resilience.interceptors._method_state import MethodState
from resilience.interceptors._registry import Registry
from resilience.observability._defaults import default_observers
from resilience.observability.tracing import CallTracer, default_call_tracer
from resilience.policy import Policy

TRACER_RECHECK = 1.0
"""Seconds between looks at whether a tracer provider is installed."""

MAX_CALL_INFOS = 4096
"""CallInfo values a pipeline keeps for reuse."""


class Rejection:
    """A call refused locally: the status to end it with, and why (``reason``, a RejectReason
    value, also in ``trailing_metadata`` as ``x-resilience-reject``, with
    ``grpc-retry-pushback-ms`` when ``retry_after`` seconds is known, and the standard error
    details in ``grpc-status-details-bin``: see :mod:`resilience._base.details`).

    ``info``: the ErrorInfo metadata; ``retry_delay``: the RetryInfo delay in seconds (default
    ``retry_after``; a shed call gets one without a pushback); ``quota``: ``(subject,
    description)`` of the exceeded quota, for a QuotaFailure."""

    __slots__ = ("code", "details", "reason", "trailing_metadata")

    def __init__(
        self,
        code: grpc.StatusCode,
        reason: str,
        details: str,
        retry_after: float | None = None,
        *,
        info: Mapping[str, str] | None = None,
        retry_delay: float | None = None,
        quota: tuple[str, str] | None = None,
    ) -> None:
        self.code = code
        self.reason = reason
        self.details = details
        trailing: tuple[tuple[str, str | bytes], ...] = ((REJECT, reason),)
        if retry_after is not None and retry_after >= 0:
            trailing += ((PUSHBACK, str(math.ceil(retry_after * 1000))),)
        if retry_delay is None:
            retry_delay = retry_after
        trailing += (
            details_trailer(
                code, details, reason, metadata=info, retry_delay=retry_delay, quota=quota
            ),
        )
        self.trailing_metadata = trailing

    def __repr__(self) -> str:
        return f"Rejection({self.code.name}, {self.details!r})"


@functools.lru_cache(maxsize=MAX_CALL_INFOS)
def breaker_rejection(method: str) -> Rejection:
    """The rejection of a call to ``method`` the client's breaker dropped (UNAVAILABLE; built
    once per method: a breaker drops calls in bursts)."""
    return Rejection(
        grpc.StatusCode.UNAVAILABLE,
        RejectReason.BREAKER.value,
        "resilience: rejected by breaker",
        info={"method": method, "side": "client"},
    )


@functools.lru_cache(maxsize=MAX_CALL_INFOS)
def spent_timeout_rejection(method: str) -> Rejection:
    """The rejection of a call to ``method`` made with a negative or NaN ``timeout=`` (its
    caller's deadline had passed: DEADLINE_EXCEEDED, never sent, as gRPC fails it unsent). Not
    counted by the breaker: the server never saw it. Built once per method."""
    return Rejection(
        grpc.StatusCode.DEADLINE_EXCEEDED,
        RejectReason.DEADLINE.value,
        "resilience: the call's timeout was negative or NaN: its deadline has passed",
        info={"method": method, "side": "client"},
    )


def deadline_rejection(method: str) -> Rejection:
    """The rejection of a call to ``method`` made after the deadline it inherited from the
    call being served had passed (DEADLINE_EXCEEDED; never sent: gRPC would send it with a
    zero timeout, and a warm channel can still complete such a call)."""
    return Rejection(
        grpc.StatusCode.DEADLINE_EXCEEDED,
        RejectReason.DEADLINE.value,
        "resilience: the deadline inherited from the call being served has passed",
        info={"method": method, "side": "client"},
    )


def state_of(registry: Registry, method: str | bytes) -> MethodState:
    """The method's state; if building it fails (a policy or algorithm bug), a state with
    every policy off, so the call proceeds unprotected rather than failing."""
    try:
        return registry.state(method)
    except Exception as exc:
        return passthrough_state(method, exc)


def passthrough_state(method: str | bytes, exc: Exception) -> MethodState:
    """After building the method's state raised ``exc``: log it, and a state with every
    policy off (see :func:`state_of`)."""
    report("method state", exc)
    name = method.decode("utf-8", "replace") if isinstance(method, bytes) else method
    return MethodState.passthrough(name)


def tell_ended(
    info: CallInfo,
    outcome: CallOutcome,
    observers: tuple[Observer, ...],
    tracer: CallTracer | None,
    span: Span | None,
) -> None:
    """Tell every observer that the call ended with ``outcome``, then end its span (when it has
    one); an observer or the tracer that raises is logged and the others still hear of it."""
    for observer in observers:
        try:
            observer.call_ended(info, outcome)
        except Exception as exc:
            report("observer call_ended", exc)
    if span is not None and tracer is not None:
        try:
            tracer.end(span, info, outcome)
        except Exception as exc:
            report("span end", exc)


class Pipeline:
    """What both sides share: the current registry (swapped on reload), observers, the tracer
    and the clock. ``observers`` is every observer given; ``hearers`` is the pair (starters,
    enders): those whose declared interest (:class:`resilience.events.Interest`) includes this
    side's call starts, and its ends, the only ones a call tells; ``listeners`` those that hear
    decision events (a client retry or hedge). They are sorted when the pipeline is built and
    again when an observer's interest changes (:func:`resilience.events.interest_changed`); a
    call reads the pair once, at its start, and tells its end to the enders of that pair."""

    __slots__ = (
        "__weakref__",
        "_infos",
        "_monotonic_clock",
        "_side",
        "_tracer_checked",
        "_tracer_on",
        "clock",
        "hearers",
        "listeners",
        "observers",
        "registry",
        "tracer",
    )

    def __init__(
        self,
        policy: Policy | None,
        observers: Sequence[Observer] | None,
        clock: Clock,
        side: str,
        aio: bool = False,
    ) -> None:
        # None: the default observers (metrics, crash reports, status page statistics); each
        # is a no-op until its backend (an OTel SDK meter provider, an initialised sentry-sdk,
        # a served status page) is configured.
        self.observers: tuple[Observer, ...] = (
            default_observers() if observers is None else tuple(observers)
        )
        self._side: Side = "client" if side == "client" else "server"
        watch_interest(self)
        self._sort_observers()
        self.clock = clock
        # The default clock: a call's start is the clock reading start() already took.
        self._monotonic_clock = clock is time.monotonic
        self._infos: dict[tuple[str, str | None, int | None], CallInfo] = {}
        self.tracer = default_call_tracer()
        self._tracer_on: CallTracer | None = None
        self._tracer_checked = -math.inf
        self.registry = Registry(
            policy if policy is not None else Policy.default(), side=side, clock=clock, aio=aio
        )

    def _sort_observers(self) -> None:
        observers, side = self.observers, self._side
        self.hearers = (hearing(observers, side, "starts"), hearing(observers, side, "ends"))
        self.listeners = hearing(observers, None, "events")

    def reread_interest(self, observer: object) -> None:
        """Sort the observers again when ``observer`` is one of them (its interest changed)."""
        if any(held is observer for held in self.observers):
            self._sort_observers()

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

    def call_info(self, method: str, color: str | None, tier: int | None) -> CallInfo:
        """The (immutable) CallInfo of a call, shared by every call with the same method,
        color and tier; up to MAX_CALL_INFOS are kept (colors arrive from the network)."""
        key = (method, color, tier)
        info = self._infos.get(key)
        if info is None:
            info = CallInfo(self._side, method, color, tier)
            if len(self._infos) < MAX_CALL_INFOS:
                self._infos[key] = info
        return info

    def tracer_if_on(self) -> CallTracer | None:
        """The tracer, pinned to the installed provider's tracer (:meth:`CallTracer.pinned`),
        when a tracer provider is installed, else None. Looking the provider up costs more than
        the rest of a call's reporting, so the answer is kept for a second: installing (or
        replacing) a provider takes effect within a second."""
        now = time.monotonic()
        if now >= self._tracer_checked:
            self._tracer_on = self.tracer.pinned()
            self._tracer_checked = now + TRACER_RECHECK
        return self._tracer_on
