"""Admission stages over the algorithms: rate limit, overload guard, breaker, timeout.

What each does with a permit ended ``NOT_RUN`` (a later stage refused the call) is stated per
stage; the recommended order (docs/pipeline.md) puts the rate limit last among the admission
stages because a sliding window cannot take an admission back.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from resilience._base.clock import Clock
from resilience.algorithms import (
    EmaTimeout,
    OverloadGuard,
    SlidingWindowLimiter,
    SreBreaker,
    TieredLimiter,
)
from resilience.algorithms._decision import Decision
from resilience.algorithms._params import Duration, seconds
from resilience.backends import (
    AioSharedSlidingWindowLimiter,
    AioSharedTieredLimiter,
    AioTierLimiter,
    SharedSlidingWindowLimiter,
    SharedTieredLimiter,
)
from resilience.pipeline._core import FREE, Attempt, Kind, Outcome, Permit, Rejection, SyncStage

_new = object.__new__


class Fast(NamedTuple):
    """What a library stage does per call, as plain callables, for a pipeline that fuses its
    stages (:mod:`resilience.pipeline._fused`); ``now`` is a reading of the pipeline's clock:

    - ``decide(now)`` admits or refuses (None: the stage never refuses);
    - ``timeout``: seconds, or a function of nothing giving them (None: no bound);
    - ``ok(now)`` and ``ok_timed(duration)`` end a successful call (at ``now``, after it);
    - ``permit()`` makes the stage's permit, without admitting again, to end any other outcome
      through :meth:`Permit.end` (None: nothing to end).

    Each does exactly what :meth:`admit` and the permit's end do. An algorithm on the
    pipeline's clock takes ``now`` instead of reading its clock again; on another clock it
    reads its own."""

    decide: Callable[[float], Decision] | None
    timeout: float | Callable[[], float] | None
    ok: Callable[[float], object] | None
    ok_timed: Callable[[float], object] | None
    permit: Callable[[], Permit] | None


def _rejection(decision: Decision, stage: str) -> Rejection:
    return Rejection(decision.reason or "rate_limit", decision.retry_after, stage)


class RateLimit(SyncStage):
    """Admit a call if ``limiter`` has room: a :class:`~resilience.algorithms.SlidingWindowLimiter`,
    a :class:`~resilience.algorithms.TieredLimiter` (the call's tier is passed), one shared
    through a store (:mod:`resilience.backends`: ``SharedSlidingWindowLimiter``,
    ``SharedTieredLimiter`` and their ``Aio`` twins), or what ``build_limiter`` returns.

    ``weight``: the request's weight ``n`` (>= 1; ``build_limiter``'s limiters take 1). An
    asyncio shared limiter is awaited in :meth:`aadmit`, and a sync call through it raises
    TypeError (it lives on its event loop). A refusal carries the limiter's reason
    (``rate_limit`` or ``shed``) and ``retry_after``. A permit ended ``NOT_RUN`` is *not*
    refunded: the window counted the admission and cannot take it back, so put this stage
    after every stage that may refuse.
    """

    __slots__ = ("_aacquire", "_acquire", "_direct", "_limiter", "_weight", "name")

    def __init__(self, limiter: Any, *, weight: int = 1, name: str = "rate_limit") -> None:
        if not callable(getattr(limiter, "try_acquire", None)):
            raise TypeError(f"limiter must have try_acquire(), got {limiter!r}")
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 1:
            raise ValueError(f"weight must be an integer >= 1, got {weight!r}")
        self._acquire, self._aacquire = _deciders(limiter, weight)
        plain = (SlidingWindowLimiter, SharedSlidingWindowLimiter)
        self._direct = limiter.try_acquire if isinstance(limiter, plain) else None
        self._limiter = limiter
        self._weight = weight
        self.name = name

    def admit(self, attempt: Attempt) -> Permit | Rejection:
        direct = self._direct  # the usual case without a lambda in between
        decision = direct(self._weight) if direct is not None else self._acquire(attempt.tier)
        return FREE if decision.allowed else _rejection(decision, self.name)

    async def aadmit(self, attempt: Attempt) -> Permit | Rejection:
        aacquire = self._aacquire
        decision = self._acquire(attempt.tier) if aacquire is None else await aacquire(attempt.tier)
        return FREE if decision.allowed else _rejection(decision, self.name)

    def _fast(self, tier: int, clock: Clock) -> Fast | None:
        """:class:`Fast` for calls of ``tier`` on a pipeline reading ``clock``; None for a
        limiter that decides on the event loop (a sync call must fail as :meth:`admit` says)."""
        if self._aacquire is not None:
            return None
        limiter, weight = self._limiter, self._weight
        if type(limiter) is SlidingWindowLimiter and limiter._clock is clock:
            return Fast(functools.partial(limiter._acquire_at, weight), None, None, None, None)
        if type(limiter) is TieredLimiter and limiter._clock is clock:
            decide = functools.partial(limiter._acquire_at, tier, weight)
            return Fast(decide, None, None, None, None)
        acquire, direct = self._acquire, self._direct
        if direct is None:
            return Fast(lambda _: acquire(tier), None, None, None, None)
        return Fast(lambda _: direct(weight), None, None, None, None)


Decide = Callable[[int], Decision]
AsyncDecide = Callable[[int], Awaitable[Decision]]


def _no_sync(limiter: Any) -> Decide:
    def refuse(_: int) -> Decision:
        raise TypeError(
            f"{type(limiter).__name__} decides on the event loop: protect the call with "
            "pipe.acall() or an async function, or build a sync limiter for sync calls"
        )

    return refuse


def _deciders(limiter: Any, n: int) -> tuple[Decide, AsyncDecide | None]:
    """(sync, async or None) functions of the tier that ask ``limiter`` for a decision."""
    if isinstance(limiter, AioTierLimiter):
        return (_no_sync(limiter), limiter.try_acquire)
    if isinstance(limiter, AioSharedTieredLimiter):
        return (_no_sync(limiter), lambda tier: limiter.try_acquire(tier, n))
    if isinstance(limiter, AioSharedSlidingWindowLimiter):
        return (_no_sync(limiter), lambda _: limiter.try_acquire(n))
    if isinstance(limiter, (TieredLimiter, SharedTieredLimiter)):
        return (lambda tier: limiter.try_acquire(tier, n), None)
    if isinstance(limiter, (SlidingWindowLimiter, SharedSlidingWindowLimiter)):
        return (lambda _: limiter.try_acquire(n), None)
    acquire: Decide = limiter.try_acquire  # build_limiter's TierLimiter: try_acquire(tier)
    return (acquire, None)


class _GuardPermit(Permit):
    __slots__ = ("_guard",)

    def __init__(self, guard: OverloadGuard) -> None:
        self.ended = False
        self.timeout = None
        self._guard = guard

    def _end(self, outcome: Outcome) -> None:
        if outcome.kind is Kind.NOT_RUN:
            self._guard.abandon()
        else:
            self._guard.release(outcome.duration)


class Overload(SyncStage):
    """Admit a call of the attempt's tier unless ``guard`` (an
    :class:`~resilience.algorithms.OverloadGuard`) sheds it (reason ``overload``). The permit
    releases the guard with the call's duration, whatever its outcome; ended ``NOT_RUN`` it
    only lowers the in-flight count (:meth:`OverloadGuard.abandon`)."""

    __slots__ = ("_guard", "name")

    def __init__(self, guard: OverloadGuard, *, name: str = "overload") -> None:
        if not isinstance(guard, OverloadGuard):
            raise TypeError(f"guard must be an OverloadGuard, got {guard!r}")
        self._guard = guard
        self.name = name

    def admit(self, attempt: Attempt) -> Permit | Rejection:
        decision = self._guard.try_acquire(attempt.tier)
        if decision.allowed:
            return _GuardPermit(self._guard)
        return _rejection(decision, self.name)

    def _fast(self, tier: int, clock: Clock) -> Fast:
        """:class:`Fast` for calls of ``tier`` on a pipeline reading ``clock``."""
        guard = self._guard
        if type(guard) is OverloadGuard and guard._clock is clock:
            decide: Callable[[float], Decision] = functools.partial(guard._acquire_at, tier)
        else:
            decide = lambda _: guard.try_acquire(tier)  # noqa: E731
        return Fast(
            decide,
            None,
            None,
            guard.release,
            functools.partial(_GuardPermit, guard),
        )


class _BreakerPermit(Permit):
    __slots__ = ("_breaker",)

    def __init__(self, breaker: SreBreaker) -> None:
        self.ended = False
        self.timeout = None
        self._breaker = breaker

    def _end(self, outcome: Outcome) -> None:
        kind = outcome.kind
        if kind is Kind.SUCCESS:
            self._breaker.record(True)
        elif kind is Kind.FAILURE or kind is Kind.TIMEOUT:
            self._breaker.record(False)


class Breaker(SyncStage):
    """Admit a call unless ``breaker`` (an :class:`~resilience.algorithms.SreBreaker`) drops
    it (reason ``breaker``). The permit records a success, or a failure for a FAILURE or
    TIMEOUT outcome; a call that did not run (``NOT_RUN``) or was cancelled records nothing:
    the breaker counts admitted calls only at their outcome, so nothing is consumed."""

    __slots__ = ("_breaker", "name")

    def __init__(self, breaker: SreBreaker, *, name: str = "breaker") -> None:
        if not isinstance(breaker, SreBreaker):
            raise TypeError(f"breaker must be an SreBreaker, got {breaker!r}")
        self._breaker = breaker
        self.name = name

    def admit(self, attempt: Attempt) -> Permit | Rejection:
        breaker = self._breaker
        decision = breaker.try_acquire()
        if decision.allowed:  # the permit without an __init__ call: this is the hot path
            permit = _new(_BreakerPermit)
            permit.ended = False
            permit.timeout = None
            permit._breaker = breaker
            return permit
        return _rejection(decision, self.name)

    def _fast(self, tier: int, clock: Clock) -> Fast:
        """:class:`Fast` (the same for every tier) on a pipeline reading ``clock``."""
        breaker = self._breaker
        permit = functools.partial(_BreakerPermit, breaker)
        if type(breaker) is SreBreaker and breaker._clock is clock:
            ok = functools.partial(breaker._record_at, True)
            return Fast(breaker._admit_at, None, ok, None, permit)
        return Fast(
            lambda _: breaker.try_acquire(), None, lambda _: breaker.record(True), None, permit
        )


class _TimeoutPermit(Permit):
    __slots__ = ("_ema",)

    def __init__(self, timeout: float, ema: EmaTimeout | None) -> None:
        self.ended = False
        self.timeout: float | None = timeout
        self._ema = ema

    def _end(self, outcome: Outcome) -> None:
        ema = self._ema
        kind = outcome.kind
        if ema is None or kind is Kind.NOT_RUN or kind is Kind.CANCELLED:
            return
        ema.observe(outcome.duration, ok=kind is Kind.SUCCESS)


class Timeout(SyncStage):
    """Bound the call's duration: ``limit`` is seconds (a fixed timeout) or an
    :class:`~resilience.algorithms.EmaTimeout` (its current ``timeout()``, fed with each
    call's latency; a failure or timeout feeds ``max(latency, t_max)``). Never refuses.

    On asyncio the call is cancelled at the timeout and :class:`CallTimeout` raised. A sync
    call cannot be interrupted safely from Python (no thread is started or abandoned): it runs
    to its end; if it took longer it is recorded as a timeout by every stage and
    :class:`CallTimeout` is raised instead of returning its late result. What a sync call *can*
    do is bound itself: :func:`time_left` gives the seconds left, to pass to httpx, sqlite3 or
    gRPC. A cancelled or not-run call is not fed to the EMA."""

    __slots__ = ("_ema", "_fixed", "name")

    def __init__(self, limit: Duration | EmaTimeout, *, name: str = "timeout") -> None:
        if isinstance(limit, EmaTimeout):
            self._ema: EmaTimeout | None = limit
            self._fixed = 0.0
        else:
            self._ema = None
            self._fixed = seconds("timeout", limit)
        self.name = name

    def admit(self, attempt: Attempt) -> Permit | Rejection:
        ema = self._ema
        permit = _new(_TimeoutPermit)  # without an __init__ call: this is the hot path
        permit.ended = False
        permit.timeout = self._fixed if ema is None else ema.timeout()
        permit._ema = ema
        return permit

    def _fast(self, tier: int, clock: Clock) -> Fast:
        """:class:`Fast` (the same for every tier; the EMA has no clock)."""
        ema = self._ema
        if ema is None:
            return Fast(None, self._fixed, None, None, None)
        return Fast(
            None, ema.timeout, None, ema.observe, functools.partial(_TimeoutPermit, 0.0, ema)
        )
