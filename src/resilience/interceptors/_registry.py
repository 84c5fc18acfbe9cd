"""Per-method algorithm state: built from a policy on first use, kept in a bounded map, and
carried across a policy reload for every method whose settings did not change.

A :class:`Registry` belongs to one policy and is never changed after a reload: the interceptor
swaps in a new Registry (one reference assignment), so a call sees one policy from start to end
and no call is dropped. Lookups are one dict read; only a method's first call takes a lock.

Limiters, overload guards and bulkheads are shared by every method whose settings are equal: a
limit declared on ``/shop.Catalog/*`` is one budget for all Catalog methods (its settings carry
the pattern as ``key``), a bulkhead one set of places. Breakers and dynamic timeouts are per
method.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Hashable, Iterator
from typing import Any

from resilience._base.clock import Clock, default_clock
from resilience.algorithms import EmaTimeout, OverloadGuard, SreBreaker, TieredLimiter
from resilience.events import GaugeReading
from resilience.interceptors._callers import AioPerCaller, PerCaller
from resilience.interceptors._client_hedge import ClientHedge, hedging_budget
from resilience.interceptors._client_retry import ClientRetry, build_client_retry
from resilience.interceptors._guard import release
from resilience.interceptors._server_limits import (
    AwaitedLimiter,
    Limiter,
    _Plain,
    build_aio_limiter,
    build_limiter,
    build_overload,
)
from resilience.pipeline import Bulkhead
from resilience.policy import BulkheadSettings, MethodSettings, Policy, RateLimitSettings

_PASSTHROUGH = MethodSettings(breaker=None, propagate=False)

DEFAULT_MAX_METHODS = 2048
"""Methods whose state a registry keeps; the oldest entry is evicted when it is full."""


class MethodState:
    """The settings and algorithm instances of one method (each None when its section is off)."""

    __slots__ = (
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
        "waits",
    )

    def __init__(
        self, method: str, settings: MethodSettings, shared: _Shared, side: str = "client"
    ) -> None:
        self.method = method
        self.settings = settings
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
    """Algorithm instances shared by every method with equal settings (limits, overload)."""

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


class Registry:
    """Method name -> :class:`MethodState` under one policy; bounded to ``max_methods``.

    ``aio``: the registry of a grpc.aio server: shared limits are built for its event loop,
    and an exact-mode limit on Redis becomes the state's ``awaited_limiter``."""

    __slots__ = ("_lock", "_max", "_shared", "_states", "policy", "side")

    def __init__(
        self,
        policy: Policy,
        *,
        side: str,
        clock: Clock,
        rng: random.Random | None = None,
        max_methods: int = DEFAULT_MAX_METHODS,
        aio: bool = False,
    ) -> None:
        self.policy = policy
        self.side = side
        self._max = max_methods
        self._states: dict[str | bytes, MethodState] = {}
        self._shared = _Shared(clock, rng if rng is not None else random.Random(), {}, aio)
        self._lock = threading.Lock()

    def state(self, method: str | bytes) -> MethodState:
        """The state of ``method`` (a str, or bytes as grpc.aio passes it), built on first use."""
        found = self._states.get(method)
        if found is None:
            found = self._build(method)
        return found

    def _build(self, method: str | bytes) -> MethodState:
        name = method.decode("utf-8", "replace") if isinstance(method, bytes) else method
        state = MethodState(name, self.policy.settings_for(name), self._shared, self.side)
        with self._lock:
            states = self._states
            existing = states.get(method)
            if existing is not None:
                return existing
            if len(states) >= self._max:
                del states[next(iter(states))]
            states[method] = state
        return state

    def reloaded(self, policy: Policy) -> Registry:
        """A registry for ``policy`` that keeps the state of every method whose settings are
        unchanged, and every shared limiter or guard whose settings are still in use. Store-
        backed limiters it drops are closed (their sync stops; they still decide, locally, for
        calls in flight)."""
        new = Registry(
            policy,
            side=self.side,
            clock=self._shared.clock,
            rng=self._shared.rng,
            max_methods=self._max,
            aio=self._shared.aio,
        )
        with self._lock:
            old_states = list(self._states.items())
        kept_shared: set[Hashable] = set()
        for method, state in old_states:
            settings = policy.settings_for(state.method)
            if settings == state.settings:
                new._states[method] = state
            kept_shared.update(
                s
                for s in (settings.rate_limit, settings.overload, settings.bulkhead, settings.retry)
                if s is not None
            )
            if settings.hedging is not None:  # retry budgets too: one per settings, kept
                kept_shared.add(("hedging", settings.hedging))
        with self._shared.lock:
            instances = self._shared.instances
            new._shared.instances = {k: v for k, v in instances.items() if k in kept_shared}
            dropped = [v for k, v in instances.items() if k not in kept_shared]
        _close_all(dropped)
        return new

    def close(self) -> None:
        """Close every store-backed limiter (stop its sync thread or task, close its store);
        idempotent. Calls in flight, and any later ones, are still decided, locally."""
        with self._shared.lock:
            instances = list(self._shared.instances.values())
        _close_all(instances)

    def gauge_readings(self) -> Iterator[GaugeReading]:
        """Breaker drop probability and state, and the dynamic timeout, per known method.
        (A store-backed limit reports ``limiter.fallback`` itself, to the process-wide gauge
        registry: reporting it here too would count it twice.)"""
        for state in list(self._states.values()):
            yield from state.gauge_readings(self.side)


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


def limit_text(limit: RateLimitSettings, method: str) -> str:
    """The limit a rejection names: its key (the pattern that declared it, or the ``key`` the
    policy gave it), plus the called method when the limit is shared by several methods."""
    key = limit.key or method
    where = key if key == method else f"{key} (this call: {method})"
    return f"limit {limit.limit} per {limit.window:g}s on {where}"


def _close_all(instances: list[Any]) -> None:
    """Close the instances that hold resources (store-backed limiters); others have no close.
    A close that raises is logged and the others are still closed (see :func:`._guard.release`)."""
    for instance in instances:
        close = getattr(instance, "close", None)
        if close is not None:
            release(f"a shared limiter ({type(instance).__name__})", close)
