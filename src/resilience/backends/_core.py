"""What the sync and asyncio shared limiters have in common: everything but the I/O.

A shared limiter holds its limit's :class:`LimitSpec`, the breaker around the store, a local
fallback limiter of ``fallback_limit`` (default ``limit // expected_instances``) and, in
periodic mode, the :class:`PeriodicView` that decides without I/O. :class:`SharedShell` is
the part of the two shells that does no I/O either: the constructor, read-only state and repr.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import ClassVar, Generic, Literal, TypeVar

from resilience._base.clock import Clock, default_clock
from resilience._base.limits import MAX_INSTANCES
from resilience.algorithms._decision import Decision
from resilience.algorithms._params import Duration, integer, seconds
from resilience.backends._contract import AioStore, Store
from resilience.backends._share import LocalShare
from resilience.backends._spec import LimitSpec, Snapshot
from resilience.backends._view import PeriodicView
from resilience.backends.fallback import (
    DEFAULT_INITIAL_BACKOFF,
    DEFAULT_MAX_BACKOFF,
    StoreBreaker,
)
from resilience.backends.periodic import SyncTask, SyncThread
from resilience.errors import RejectReason
from resilience.events import GaugeReading, register_gauge_source

Mode = Literal["periodic", "exact"]
MODES: tuple[Mode, ...] = ("periodic", "exact")
_RATE_LIMIT = RejectReason.RATE_LIMIT.value
StoreT = TypeVar("StoreT", Store, AioStore)
RunnerT = TypeVar("RunnerT", SyncThread, SyncTask)


def store_breaker(
    name: str,
    store: str,
    local_limit: int,
    window: float,
    fail_open: bool,
    max_backoff: float = DEFAULT_MAX_BACKOFF,
    clock: Clock = default_clock,
) -> StoreBreaker:
    """The breaker around the store ``store`` (its description) for the limit ``name``, whose
    warnings say what happens while it is open: a local limit of ``local_limit`` per
    ``window`` seconds (``fail_open``), or every call rejected."""
    behaviour = (
        f"deciding locally with a limit of {local_limit} per {window:g} s"
        if fail_open
        else "rejecting every call (fail_open=False)"
    )
    return StoreBreaker(
        limit_name=name,
        store=store,
        local_behaviour=behaviour,
        initial_backoff=min(DEFAULT_INITIAL_BACKOFF, max_backoff),
        max_backoff=max_backoff,
        clock=clock,
    )


class SharedCore:
    """The I/O-free state of one shared limiter. Parameters are documented on the public
    limiter classes; each raises ValueError naming the parameter and its allowed range."""

    def __init__(
        self,
        *,
        name: str,
        limit: int,
        window: Duration,
        buckets: int,
        tiered: bool,
        store: str,
        store_now: Clock,
        mode: Mode,
        sync_interval: Duration,
        expected_instances: int,
        fail_open: bool,
        fallback_limit: int | None,
        max_backoff: float,
        clock: Clock,
        breaker: StoreBreaker | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be 'periodic' or 'exact', got {mode!r}")
        instances = integer(
            "expected_instances", expected_instances, minimum=1, maximum=MAX_INSTANCES
        )
        self.spec = LimitSpec(name, limit, seconds("window", window), buckets, tiered)
        self.exact = mode == "exact"
        self.sync_interval = seconds("sync_interval", sync_interval)
        self.fail_open = bool(fail_open)
        local_limit = limit // instances if fallback_limit is None else fallback_limit
        local_limit = integer("fallback_limit", local_limit, minimum=0)
        self.share = LimitSpec(name, local_limit, self.spec.window, buckets, tiered)
        """This instance's share while the store is skipped (periodic mode's fallback)."""
        self.local = LocalShare(self.share, clock=clock, store_now=store_now)
        """Exact mode's fallback: the share, counting the store's decisions too."""
        if breaker is None:
            breaker = store_breaker(
                name, store, local_limit, self.spec.window, self.fail_open, max_backoff, clock
            )
        self.breaker = breaker
        self.view = (
            None
            if self.exact
            else PeriodicView(self.spec, instances=instances, clock=clock, store_now=store_now)
        )
        self.instance = uuid.uuid4().hex
        """This process's id in the store's registry of live instances."""
        self.clock = clock

    def decide_locally(self, tier: int, n: int) -> Decision:
        """The decision without asking the store: the periodic view while the store is
        healthy; the fallback limiter (or a rejection, fail-closed) while it is not."""
        if not self.breaker.open and self.view is not None:
            return self.view.try_acquire(tier, n)
        if not self.fail_open:
            return Decision(False, self.breaker.retry_in() or None, _RATE_LIMIT)
        if self.view is not None:
            return self.view.decide_own(self.share, tier, n)
        return self.local.try_acquire(tier, n)

    def store_decided(self, tier: int, n: int, decision: Decision) -> Decision:
        """The store decided this call: count it in this instance's share (exact mode) and
        close the breaker."""
        self.local.record(tier, n, decision.allowed)
        self.breaker.succeeded()
        return decision

    def store_failed(self, error: BaseException, tier: int, n: int) -> Decision:
        """The store failed during this call: trip the breaker and decide locally now."""
        self.breaker.failed(error)
        return self.decide_locally(tier, n)

    def begin_sync(self) -> dict[int, list[int]] | None:
        """Deltas to push now, or None when the breaker says to skip the store this time."""
        if self.view is None or not self.breaker.allow():
            return None
        return self.view.take_deltas()

    def end_sync(self, snapshot: Snapshot, started: float) -> None:
        """Apply a successful exchange that began at local time ``started``."""
        assert self.view is not None
        self.view.apply(snapshot, (started + self.clock()) / 2)
        self.breaker.succeeded()

    @property
    def fallback(self) -> bool:
        """True while the store is skipped and decisions are local (or rejected)."""
        return self.breaker.open

    def gauge_readings(self) -> Iterator[GaugeReading]:
        """``limiter.fallback`` (1 while falling back, else 0), attribute ``limit``."""
        return self.breaker.gauge_readings()


class SharedShell(Generic[StoreT, RunnerT]):
    """What the sync and asyncio limiter shells share besides :class:`SharedCore`: the
    public constructor, the read-only state and the repr. Only the awaiting differs between
    the shells, so they add just the store calls, the runner and closing.

    A subclass sets ``_TIERED`` (which rule) and builds its periodic runner in
    :meth:`_runner`. Parameters are documented on the public limiter classes.
    """

    __slots__ = ("__weakref__", "_closed", "_core", "_store", "_sync")

    _TIERED: ClassVar[bool] = False

    def __init__(
        self,
        store: StoreT,
        *,
        name: str,
        limit: int,
        window: Duration = 1.0,
        buckets: int = 10,
        mode: Mode = "periodic",
        sync_interval: Duration = 0.1,
        expected_instances: int = 1,
        fail_open: bool = True,
        fallback_limit: int | None = None,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        clock: Clock = default_clock,
        breaker: StoreBreaker | None = None,
    ) -> None:
        self._store: StoreT = store
        self._core = SharedCore(
            name=name,
            limit=limit,
            window=window,
            buckets=buckets,
            tiered=self._TIERED,
            store=store.description,
            store_now=store.now,
            mode=mode,
            sync_interval=sync_interval,
            expected_instances=expected_instances,
            fail_open=fail_open,
            fallback_limit=fallback_limit,
            max_backoff=max_backoff,
            clock=clock,
            breaker=breaker,
        )
        self._sync: RunnerT | None = None if self._core.exact else self._runner()
        self._closed = False
        register_gauge_source(self)  # limiter.fallback reaches the metrics (weakly held)

    def _runner(self) -> RunnerT:
        """The periodic sync's thread or task (not started)."""
        raise NotImplementedError

    @property
    def spec(self) -> LimitSpec:
        """The limit's name, limit, window, buckets and rule."""
        return self._core.spec

    @property
    def fallback(self) -> bool:
        """True while the store is skipped (decisions are local, or rejected if fail-closed)."""
        return self._core.fallback

    @property
    def syncing(self) -> bool:
        """True while the periodic background sync runs."""
        return self._sync is not None and self._sync.running

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def gauge_readings(self) -> Iterator[GaugeReading]:
        """Gauge ``limiter.fallback``: 1 while falling back, else 0 (a GaugeSource)."""
        return self._core.gauge_readings()

    def __repr__(self) -> str:
        spec = self._core.spec
        mode = "exact" if self._core.exact else "periodic"
        return (
            f"{type(self).__name__}(name={spec.name!r}, limit={spec.limit}, "
            f"window={spec.window}, buckets={spec.buckets}, mode={mode!r}, "
            f"store={self._store.description!r})"
        )
