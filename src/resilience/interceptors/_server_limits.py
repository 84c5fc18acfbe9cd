"""The server-side limits a method state holds: the rate limiter (in-process, or shared
through a store, awaited on grpc.aio in exact mode) and the overload guard, built from a
policy's ``rate_limit`` and ``overload`` sections, and the admission stages made of them
(:func:`server_admission`)."""

from __future__ import annotations

from typing import Any, Protocol

from resilience._base.clock import Clock
from resilience._base.loops import call_soon_threadsafe_if_open
from resilience.algorithms import OverloadGuard, SlidingWindowLimiter, TieredLimiter
from resilience.algorithms._decision import Decision
from resilience.interceptors._callers import AioPerCaller, PerCaller, SyncPerCaller
from resilience.interceptors._guard import report
from resilience.pipeline import Attempt, Overload, Permit, RateLimit, Rejection, Stage, SyncStage
from resilience.pipeline._admission import Admission
from resilience.pipeline._core import FREE
from resilience.policy import OverloadSettings, RateLimitSettings

OVERLOAD, RATE_LIMIT = "overload", "rate_limit"
"""The names of a server method's admission stages: a rejection's stage says which refused."""


class Limiter(Protocol):
    """A server-side limit: ``tiered`` limiters take the call's tier, others ignore it."""

    def try_acquire(self, tier: int) -> Decision: ...


class _Plain:
    """A SlidingWindowLimiter behind the one-argument Limiter interface."""

    __slots__ = ("_acquire", "limiter")

    def __init__(self, limiter: SlidingWindowLimiter) -> None:
        self.limiter = limiter
        self._acquire = limiter.try_acquire

    def try_acquire(self, tier: int) -> Decision:
        return self._acquire()


class AwaitedLimiter(Protocol):
    """A limit an aio server awaits: exact mode on a Redis store (one round trip per call)."""

    async def try_acquire(self, tier: int) -> Decision: ...


def build_limiter(settings: RateLimitSettings, clock: Clock, breaker: Any = None) -> Limiter:
    """The limiter for one ``rate_limit`` section: in-process, or shared through the section's
    store (``resilience.backends``; no start-up PING here, as this runs on a method's first
    call; its decisions never wait on the store in periodic mode). With ``per``, a
    :class:`._callers.SyncPerCaller` of such limiters, one per caller, all behind one store
    breaker (``breaker``: see ``resilience.backends.factory.shared_breaker``)."""
    if settings.per is not None:
        shared_by_callers = _callers_breaker(settings, clock)
        return SyncPerCaller(settings, lambda one: build_limiter(one, clock, shared_by_callers))
    if settings.store != "memory":
        from resilience.backends import TierLimiter
        from resilience.backends import build_limiter as build_shared

        shared = build_shared(settings, aio=False, clock=clock, check=False, breaker=breaker)
        assert isinstance(shared, TierLimiter)
        return shared
    if settings.tiered:
        return TieredLimiter(settings.limit, settings.window, settings.buckets, clock=clock)
    return _Plain(
        SlidingWindowLimiter(settings.limit, settings.window, settings.buckets, clock=clock)
    )


def _callers_breaker(settings: RateLimitSettings, clock: Clock) -> Any:
    """The store breaker every caller's limiter of a per-caller quota shares (None in memory),
    named ``<key>#<per>`` in its log lines; the ``limiter.fallback`` gauge names the limit
    ``<key>`` (see :class:`._callers.PerCaller`)."""
    if settings.store == "memory":
        return None
    from resilience.backends.factory import shared_breaker

    return shared_breaker(settings, f"{settings.key}#{settings.per}", clock=clock)


def build_aio_limiter(settings: RateLimitSettings, clock: Clock) -> Limiter | AwaitedLimiter:
    """:func:`build_limiter` for an aio server: a shared limit in exact mode is awaited (its
    round trip never blocks the event loop); periodic mode and memory decide synchronously,
    the periodic sync running as a task on the server's loop. Call it on the loop's thread."""
    if settings.store == "memory":
        return build_limiter(settings, clock)
    from resilience.backends import build_limiter as build_shared

    if settings.per is not None:
        return _aio_per_caller(settings, clock)
    return build_shared(settings, aio=True, clock=clock, check=False)


def _aio_per_caller(settings: RateLimitSettings, clock: Clock) -> AioPerCaller:
    """A per-caller exact-mode limit on a shared store for an aio server: every caller's
    limiter on one connection pool, closed on the loop after them."""
    import asyncio

    from resilience.backends import build_limiter as build_shared
    from resilience.backends.redis_store import AioRedisStore

    breaker = _callers_breaker(settings, clock)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # not on a loop: each caller's limiter gets a store of its own
        return AioPerCaller(
            settings, lambda one: build_shared(one, aio=True, clock=clock, breaker=breaker)
        )
    store = AioRedisStore.from_url(settings.store)

    def build(one: RateLimitSettings) -> Any:
        return build_shared(
            one, aio=True, clock=clock, check=False, aio_store=store, breaker=breaker
        )

    def close_store() -> None:
        call_soon_threadsafe_if_open(loop, lambda: loop.create_task(store.aclose()))

    return AioPerCaller(settings, build, on_close=close_store)


def build_overload(settings: OverloadSettings, clock: Clock) -> OverloadGuard:
    """The overload guard for one ``overload`` section."""
    return OverloadGuard(
        cpu_thresholds=dict(settings.cpu_thresholds),
        window=settings.window,
        buckets=settings.buckets,
        clock=clock,
    )


class CallerLimit(SyncStage):
    """A per-caller rate limit as an admission stage: the caller is the attempt's ``key``
    (:class:`resilience.pipeline._admission.KeyedAttempt`, from :meth:`Admission.admit`); a
    call without one is counted on the limiter of the empty key, as before stages. A
    :class:`._callers.AioPerCaller` is awaited (:meth:`aadmit`); admitted synchronously, it
    raises TypeError (it decides on the event loop)."""

    __slots__ = ("_limiter", "name")

    def __init__(self, limiter: PerCaller[Any], *, name: str = RATE_LIMIT) -> None:
        self._limiter = limiter
        self.name = name

    def admit(self, attempt: Attempt) -> Permit | Rejection:
        limiter = self._limiter
        if isinstance(limiter, AioPerCaller):
            raise TypeError("a per-caller limit on a shared store in exact mode is awaited")
        key = getattr(attempt, "key", None)
        decision = limiter.try_acquire(attempt.tier, key or "")  # type: ignore[attr-defined]
        return FREE if decision.allowed else self._refused(decision)

    async def aadmit(self, attempt: Attempt) -> Permit | Rejection:
        limiter = self._limiter
        if not isinstance(limiter, AioPerCaller):
            return self.admit(attempt)
        decision = await limiter.try_acquire(attempt.tier, getattr(attempt, "key", None) or "")
        return FREE if decision.allowed else self._refused(decision)

    def _refused(self, decision: Decision) -> Rejection:
        return Rejection(decision.reason or "rate_limit", decision.retry_after, self.name)


def server_admission(
    overload: OverloadGuard | None, limiter: object | None, clock: Clock, method: str
) -> Admission | None:
    """The admission of a server method: its overload guard, then its rate limit (the
    sections that are on, in that order), as stages named :data:`OVERLOAD` and
    :data:`RATE_LIMIT`; None when both are off. An in-process limit and a guard on ``clock``
    run compiled (:mod:`resilience.pipeline._admission`)."""
    stages: list[Stage] = []
    if overload is not None:
        stages.append(Overload(overload, name=OVERLOAD))
    if isinstance(limiter, PerCaller):
        stages.append(CallerLimit(limiter))
    elif isinstance(limiter, _Plain):
        stages.append(RateLimit(limiter.limiter, name=RATE_LIMIT))
    elif limiter is not None:
        stages.append(RateLimit(limiter, name=RATE_LIMIT))
    if not stages:
        return None
    return Admission(stages, clock, name=method, fault=_server_fault)


def _server_fault(where: str, exc: BaseException) -> None:
    """A server stage that raised: counted, and logged once per kind (``_guard.report``)."""
    report(f"server {where}", exc)
