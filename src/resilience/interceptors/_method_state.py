"""The algorithm state of one method: built from its settings on first use, each section's
instance (breaker, dynamic timeout, limiter, overload guard, bulkhead, retry, hedging) or None
when the section is off, and the gauges it publishes.

Limiters, overload guards and bulkheads are shared by every method whose settings are equal: a
limit declared on ``/shop.Catalog/*`` is one budget for all Catalog methods (its settings carry
the pattern as ``key``), a bulkhead one set of places. Breakers and dynamic timeouts are per
method. The instances a :class:`~._registry.Registry` shares live in its :class:`_Shared`.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Hashable, Iterator
from typing import Any

from resilience._base.clock import Clock, default_clock
from resilience.algorithms import (
    EmaTimeout,
    OverloadGuard,
    SlidingWindowLimiter,
    SreBreaker,
    TieredLimiter,
)
from resilience.events import GaugeReading
from resilience.interceptors._callers import AioPerCaller, PerCaller
from resilience.interceptors._client_hedge import ClientHedge, hedging_budget
from resilience.interceptors._client_retry import ClientRetry, build_client_retry
from resilience.interceptors._guard import report
from resilience.interceptors._server_limits import (
    AwaitedLimiter,
    Limiter,
    _Plain,
    build_aio_limiter,
    build_limiter,
    build_overload,
    server_admission,
)
from resilience.pipeline import Breaker, Bulkhead, Stage, Timeout
from resilience.pipeline._admission import Admission
from resilience.policy import BulkheadSettings, MethodSettings, RateLimitSettings

_PASSTHROUGH = MethodSettings(breaker=None, propagate=False)


class MethodState:
    """The settings and algorithm instances of one method (each None when its section is off)."""

    __slots__ = (
        "admission",
        "awaited_limiter",
        "breaker",
        "bulkhead",
        "caller_source",
        "failure_codes",
        "hedge",
        "limit_text",
        "limiter",
        "method",
        "overload",
        "retry",
        "settings",
        "timeout",
        "timeout_streams",
        "used",
        "waits",
    )

    def __init__(
        self, method: str, settings: MethodSettings, shared: _Shared, side: str = "client"
    ) -> None:
        self.method = method
        self.settings = settings
        self.used = False
        """Set by each lookup after the first; the registry's eviction sweep clears it (see
        :class:`._registry.Registry`): a method called once is the first to go."""
        self.failure_codes = settings.failure_codes
        self.breaker: SreBreaker | None = None
        self.timeout: EmaTimeout | None = None
        self.timeout_streams = False
        self.limiter: Limiter | None = None
        self.awaited_limiter: AwaitedLimiter | None = None
        self.limit_text = ""
        self.caller_source: str | None = None
        """A per-caller limit's ``per`` (whose value names the caller), else None."""
        self.overload: OverloadGuard | None = None
        self.retry: ClientRetry | None = None
        """In-center retries of unary calls: only for a ``read`` (idempotent) method."""
        self.hedge: ClientHedge | None = None
        """Hedged attempts of unary-unary calls: only for a ``read`` (idempotent) method."""
        self.bulkhead: Bulkhead | None = None
        """The method's bulkhead on this side (shared by the methods of its pattern)."""
        self.admission: Admission | None = None
        """The method's admission stages (client: breaker, then dynamic timeout; server:
        overload guard, then rate limit; the sections that are on), or None when none is."""
        bulkhead = settings.bulkhead
        if bulkhead is not None and bulkhead.applies_to(side):
            self.bulkhead = shared.get(bulkhead, build_bulkhead)
        if side == "client":
            self._build_client(settings, shared)
        else:
            self._build_server(method, settings, shared)
        self.waits = self.awaited_limiter is not None or self.bulkhead is not None
        """Admission may wait (an aio store round trip, a bulkhead queue)."""

    def _build_client(self, settings: MethodSettings, shared: _Shared) -> None:
        breaker = settings.breaker
        if breaker is not None:
            self.breaker = SreBreaker(
                breaker.k,
                breaker.window,
                breaker.buckets,
                breaker.min_requests,
                breaker.max_drop,
                breaker.probe_interval,
                clock=shared.clock,
                rng=shared.rng,
            )
        timeout = settings.timeout
        if timeout is not None:
            self.timeout = EmaTimeout(*timeout.seconds(), timeout.n)
            self.timeout_streams = timeout.streams
        self.admission = client_admission(self.breaker, self.timeout, shared.clock, self.method)
        if settings.retry is not None and settings.read:
            self.retry = shared.get(settings.retry, build_client_retry)
        if settings.hedging is not None and settings.read:
            budget = shared.get(("hedging", settings.hedging), hedging_budget)
            self.hedge = ClientHedge(settings.hedging, budget)

    def _build_server(self, method: str, settings: MethodSettings, shared: _Shared) -> None:
        limit = settings.rate_limit
        if limit is not None:
            if shared.aio:
                limiter = shared.get(limit, build_aio_limiter)
                from resilience.backends.factory import needs_await

                if needs_await(limiter) or isinstance(limiter, AioPerCaller):
                    self.awaited_limiter = limiter
                else:
                    self.limiter = limiter
            else:
                self.limiter = shared.get(limit, build_limiter)
            self.limit_text = limit_text(limit, method)
            self.caller_source = limit.per
        if settings.overload is not None:
            self.overload = shared.get(settings.overload, build_overload)
        limiter = self.limiter if self.awaited_limiter is None else self.awaited_limiter
        self.admission = server_admission(self.overload, limiter, shared.clock, method)

    @classmethod
    def passthrough(cls, method: str) -> MethodState:
        """A state with every policy off (used when a method's state cannot be built)."""
        return cls(method, _PASSTHROUGH, _Shared(default_clock, random.Random(), {}))

    def gauge_readings(self, side: str) -> Iterator[GaugeReading]:
        attributes = {"method": self.method, "side": side}
        if self.breaker is not None:
            p = self.breaker.drop_probability
            yield GaugeReading("breaker.drop_probability", p, attributes)
            yield GaugeReading("breaker.state", 1.0 if p > 0 else 0.0, attributes)
        if self.timeout is not None:
            yield GaugeReading("timeout.seconds", self.timeout.timeout(), attributes)
        if self.limiter is not None:
            yield from limiter_readings(self.limiter, attributes)
        elif isinstance(self.awaited_limiter, AioPerCaller):
            yield from limiter_readings(self.awaited_limiter, attributes)
        if self.overload is not None:
            shed = self.overload.shedding_tiers()
            yield GaugeReading("overload.shedding", 1.0 if shed else 0.0, attributes)
            for tier in shed:
                yield GaugeReading("overload.shedding_tier", 1.0, {**attributes, "tier": str(tier)})
            yield GaugeReading("overload.cpu", self.overload.cpu, attributes)
            yield GaugeReading("overload.inflight", float(self.overload.inflight), attributes)
        if self.bulkhead is not None:
            yield GaugeReading("bulkhead.active", float(self.bulkhead.active), attributes)
            yield GaugeReading("bulkhead.queued", float(self.bulkhead.queued), attributes)


class _Shared:
    """Algorithm instances shared by every method with equal settings: rate limits, the overload
    guard, bulkheads, retry states and hedging budgets."""

    __slots__ = ("aio", "clock", "instances", "lock", "rng")

    def __init__(
        self,
        clock: Clock,
        rng: random.Random,
        instances: dict[Hashable, Any],
        aio: bool = False,
    ) -> None:
        self.clock = clock
        self.rng = rng
        self.instances = instances
        self.aio = aio
        self.lock = threading.Lock()

    def get(self, settings: Hashable, build: Any) -> Any:
        with self.lock:
            instance = self.instances.get(settings)
            if instance is None:
                instance = self.instances[settings] = build(settings, self.clock)
            return instance


def limiter_readings(limiter: object, attributes: dict[str, str]) -> Iterator[GaugeReading]:
    """An in-process limit's use of its budget: ``limiter.limit`` (admissions per window) and
    ``limiter.used`` (admitted over the sliding window now), per ``tier`` for a tiered limit
    (``tier`` "all" otherwise); a per-caller limit, each caller's ``limiter.limit`` and
    ``limiter.callers`` (callers it keeps a limiter for, at most ``max_callers``). A
    store-backed limit reports nothing else here (its count lives in
    the store; it reports ``limiter.fallback`` itself)."""
    if isinstance(limiter, TieredLimiter):
        yield GaugeReading("limiter.limit", float(limiter.limit), attributes)
        for stats in limiter.snapshot():
            tier = {**attributes, "tier": str(int(stats.tier))}
            yield GaugeReading("limiter.used", float(stats.admitted), tier)
    elif isinstance(limiter, PerCaller):
        yield GaugeReading("limiter.limit", float(limiter.limit), attributes)
        yield GaugeReading("limiter.callers", float(len(limiter)), attributes)
    elif isinstance(limiter, _Plain):
        yield GaugeReading("limiter.limit", float(limiter.limiter.limit), attributes)
        yield GaugeReading(
            "limiter.used", float(limiter.limiter.count), {**attributes, "tier": "all"}
        )


def build_bulkhead(settings: BulkheadSettings, clock: Clock) -> Bulkhead:
    """The registry's builder of a ``bulkhead`` section (one per distinct settings, so one
    per declaring pattern or ``key``; see ``_Shared.get``). Its queue waits in real time."""
    return Bulkhead(
        settings.max_concurrent,
        max_queue=settings.max_queue,
        queue_timeout=settings.max_wait,
        name=f"bulkhead {settings.key}" if settings.key else "bulkhead",
    )


def carry_over(instance: object, before: Hashable, after: Hashable) -> bool:
    """Change a shared ``instance``, built for settings ``before``, in place to serve
    ``after`` when a policy reload changed only its numbers; whether it did (False: the
    reload builds a new one for ``after``, which starts empty).

    - A bulkhead whose ``key`` is unchanged takes the new ``max_concurrent``, ``max_queue``
      and ``max_wait`` (:meth:`Bulkhead.resize`): the calls holding a place keep it, count
      against the new ``max_concurrent`` and free it once when they end; queued calls keep
      their place.
    - An in-process rate limit (``store = "memory"``, no ``per``) whose other settings are
      unchanged takes the new ``limit``
      (:meth:`~resilience.algorithms.SlidingWindowLimiter.set_limit`): the admissions of the
      last window count against it. A store-backed limit keeps its count in the store, and a
      per-caller one or one whose window changed starts afresh.
    """
    if isinstance(instance, Bulkhead):
        if not isinstance(before, BulkheadSettings) or not isinstance(after, BulkheadSettings):
            return False
        if before.key != after.key:
            return False
        instance.resize(
            after.max_concurrent, max_queue=after.max_queue, queue_timeout=after.max_wait
        )
        return True
    if not isinstance(before, RateLimitSettings) or not isinstance(after, RateLimitSettings):
        return False
    if dataclasses.replace(before, limit=after.limit) != after:
        return False  # more than the limit changed
    if after.store != "memory" or after.per is not None:
        return False
    limiter = instance.limiter if isinstance(instance, _Plain) else instance
    if not isinstance(limiter, (SlidingWindowLimiter, TieredLimiter)):
        return False
    limiter.set_limit(after.limit)
    return True


def client_admission(
    breaker: SreBreaker | None, timeout: EmaTimeout | None, clock: Clock, method: str
) -> Admission | None:
    """The admission of a client method: its breaker, then its dynamic timeout (the sections
    that are on, in that order) as stages named ``breaker`` and ``timeout``; None when both
    are off. Both run compiled (:mod:`resilience.pipeline._admission`)."""
    stages: list[Stage] = []
    if breaker is not None:
        stages.append(Breaker(breaker))
    if timeout is not None:
        stages.append(Timeout(timeout))
    if not stages:
        return None
    return Admission(stages, clock, name=method, fault=_client_fault)


def _client_fault(where: str, exc: BaseException) -> None:
    """A client stage that raised: counted, and logged once per kind (``_guard.report``)."""
    report(f"client {where}", exc)


def limit_text(limit: RateLimitSettings, method: str) -> str:
    """The limit a rejection names: its key (the pattern that declared it, or the ``key`` the
    policy gave it), plus the called method when the limit is shared by several methods."""
    key = limit.key or method
    where = key if key == method else f"{key} (this call: {method})"
    return f"limit {limit.limit} per {limit.window:g}s on {where}"
