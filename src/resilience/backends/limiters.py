"""Shared limiters for threaded code: SlidingWindowLimiter and TieredLimiter across processes.

Same rules and the same ``try_acquire`` contract as :mod:`resilience.algorithms`, with counts
kept in a :class:`~resilience.backends.Store` (Redis or memory) so that every instance using the
same ``name`` shares one limit. Two modes:

- ``periodic`` (default): decisions are local, from the global counts fetched at the last sync
  plus this instance's admissions since (no store I/O on the request path); a daemon thread,
  started by the first decision, pushes and pulls the counts every ``sync_interval`` seconds.
- ``exact``: one atomic store operation per decision; admitted <= limit across all instances.

Failures never fail a call: when the store errs or is slower than its socket timeout, the same
call is decided by a local limiter of ``fallback_limit`` (default ``limit //
expected_instances``), a breaker skips the store for a back-off (doubling, at most
``max_backoff`` seconds) and distributed limiting resumes by itself when the store answers.
With ``fail_open=False`` calls are rejected (reason ``rate_limit``) while the store is down.
"""

from __future__ import annotations

from collections.abc import Iterator

from resilience._clock import Clock, default_clock
from resilience._events import GaugeReading
from resilience.algorithms._decision import Decision
from resilience.algorithms._params import Duration
from resilience.backends._contract import Store
from resilience.backends._core import Mode, SharedCore
from resilience.backends._spec import TIERS, LimitSpec
from resilience.backends.fallback import DEFAULT_MAX_BACKOFF
from resilience.backends.periodic import SyncThread
from resilience.observability._gauges import register_gauge_source, unregister_gauge_source


class _SharedLimiter:
    """The sync shell over :class:`SharedCore`: only the store calls and the thread live here."""

    __slots__ = ("__weakref__", "_closed", "_core", "_started", "_store", "_sync")

    def __init__(
        self,
        store: Store,
        *,
        name: str,
        limit: int,
        window: Duration,
        buckets: int,
        tiered: bool,
        mode: Mode,
        sync_interval: Duration,
        expected_instances: int,
        fail_open: bool,
        fallback_limit: int | None,
        max_backoff: float,
        clock: Clock,
    ) -> None:
        self._store = store
        self._core = SharedCore(
            name=name,
            limit=limit,
            window=window,
            buckets=buckets,
            tiered=tiered,
            store=store.description,
            store_now=store.now,
            mode=mode,
            sync_interval=sync_interval,
            expected_instances=expected_instances,
            fail_open=fail_open,
            fallback_limit=fallback_limit,
            max_backoff=max_backoff,
            clock=clock,
        )
        self._sync: SyncThread | None = None
        if not self._core.exact:
            interval = self._core.sync_interval
            self._sync = SyncThread(self.sync_now, interval=interval, name=f"resilience-{name}")
        self._started = False
        self._closed = False
        register_gauge_source(self)  # limiter.fallback reaches the metrics (weakly held)

    def _acquire(self, tier: int, n: int) -> Decision:
        core = self._core
        if core.exact and core.breaker.allow():
            try:
                decision = self._store.decide(core.spec, tier, n)
            except Exception as error:  # any store fault: decide locally, never fail the call
                return core.store_failed(error, tier, n)
            core.breaker.succeeded()
            return decision
        if not self._started and self._sync is not None:
            self._started = True
            self._sync.start()
        return core.decide_locally(tier, n)

    def sync_now(self) -> bool:
        """Periodic mode: push this instance's counts and pull the global ones now (the
        background thread calls this every ``sync_interval``). Returns whether the store
        answered; False also when the breaker skipped it or in exact mode. Never raises."""
        core = self._core
        deltas = core.begin_sync()
        if deltas is None:
            return False
        started = core.clock()
        try:
            snapshot = self._store.exchange(core.spec, core.instance, deltas)
        except Exception as error:  # the next sync retries these deltas
            core.breaker.failed(error)
            return False
        core.end_sync(snapshot, started)
        return True

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

    def close(self) -> None:
        """Stop the background sync and leave the process-wide gauge registry (idempotent;
        the store is the caller's to close). A closed limiter keeps deciding, locally in
        periodic mode: calls still in flight after a policy reload are never failed by it."""
        if self._closed:
            return
        self._closed = True
        unregister_gauge_source(self)
        if self._sync is not None:
            self._sync.stop()

    def __repr__(self) -> str:
        spec = self._core.spec
        mode = "exact" if self._core.exact else "periodic"
        return (
            f"{type(self).__name__}(name={spec.name!r}, limit={spec.limit}, "
            f"window={spec.window}, buckets={spec.buckets}, mode={mode!r}, "
            f"store={self._store.description!r})"
        )


class SharedSlidingWindowLimiter(_SharedLimiter):
    """A :class:`~resilience.algorithms.SlidingWindowLimiter` shared through ``store``.

    ``name``: the shared limit (every instance using it shares ``limit``; all must use the same
    ``window`` and ``buckets``). ``limit``, ``window`` (seconds), ``buckets``: as the memory
    limiter. ``mode``: ``"periodic"`` (default) or ``"exact"``. ``sync_interval``: seconds
    between periodic syncs (default 0.1). ``expected_instances``: instances assumed before the
    first sync and the divisor of the default ``fallback_limit``. ``fail_open``: decide locally
    (True, default) or reject while the store is down. ``max_backoff``: seconds at most between
    probes of a failed store. ``clock``: local seconds.
    """

    __slots__ = ()

    def __init__(
        self,
        store: Store,
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
    ) -> None:
        super().__init__(
            store,
            name=name,
            limit=limit,
            window=window,
            buckets=buckets,
            tiered=False,
            mode=mode,
            sync_interval=sync_interval,
            expected_instances=expected_instances,
            fail_open=fail_open,
            fallback_limit=fallback_limit,
            max_backoff=max_backoff,
            clock=clock,
        )

    def try_acquire(self, n: int = 1) -> Decision:
        """Admit a request of weight ``n`` (>= 1) iff the shared window has room for it."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n!r}")
        return self._acquire(1, n)


class SharedTieredLimiter(_SharedLimiter):
    """A :class:`~resilience.algorithms.TieredLimiter` shared through ``store``: one capacity
    for every instance (a gateway tier), the TieredLimiter rule over the global counts, so
    under overload only tier 1 passes anywhere. Parameters as
    :class:`SharedSlidingWindowLimiter`."""

    __slots__ = ()

    def __init__(
        self,
        store: Store,
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
    ) -> None:
        super().__init__(
            store,
            name=name,
            limit=limit,
            window=window,
            buckets=buckets,
            tiered=True,
            mode=mode,
            sync_interval=sync_interval,
            expected_instances=expected_instances,
            fail_open=fail_open,
            fallback_limit=fallback_limit,
            max_backoff=max_backoff,
            clock=clock,
        )

    def try_acquire(self, tier: int, n: int = 1) -> Decision:
        """Admit a request of ``tier`` (1..4) and weight ``n`` (>= 1) by the tiered rule."""
        if not 1 <= tier <= TIERS or n < 1:
            raise ValueError(f"tier must be in 1..4 and n >= 1, got tier={tier!r}, n={n!r}")
        return self._acquire(int(tier), n)
