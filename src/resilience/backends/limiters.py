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

from resilience.algorithms._decision import Decision
from resilience.backends._contract import Store
from resilience.backends._core import SharedShell
from resilience.backends._spec import TIERS
from resilience.backends.periodic import SyncThread
from resilience.events import unregister_gauge_source


class _SharedLimiter(SharedShell[Store, SyncThread]):
    """The sync shell over :class:`SharedCore`: only the store calls and the thread live here."""

    __slots__ = ("_started",)

    def _runner(self) -> SyncThread:
        self._started = False
        name = f"resilience-{self._core.spec.name}"
        return SyncThread(self.sync_now, interval=self._core.sync_interval, name=name)

    def _acquire(self, tier: int, n: int) -> Decision:
        core = self._core
        if core.exact and core.breaker.allow():
            if core.local.unwritten and not self._write_back():
                return core.decide_locally(tier, n)
            try:
                decision = self._store.decide(core.spec, tier, n)
            except Exception as error:  # any store fault: decide locally, never fail the call
                return core.store_failed(error, tier, n)
            return core.store_decided(tier, n, decision)
        if self._sync is not None and not self._started:  # _started comes with the runner
            self._started = True
            self._sync.start()
        return core.decide_locally(tier, n)

    def _write_back(self) -> bool:
        """Exact mode, first call to reach the store after a fallback: add what this instance
        decided locally meanwhile to the store's counts (in the slots it happened in), before
        the store decides again. Returns whether the store took it; if not, the counts are
        kept for the next try and the breaker opens again."""
        core = self._core
        deltas = core.local.take_unwritten()
        if not deltas:
            return True
        try:
            self._store.exchange(core.spec, core.instance, deltas)
        except Exception as error:
            core.local.restore(deltas)
            core.breaker.failed(error)
            return False
        return True

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


class SharedSlidingWindowLimiter(_SharedLimiter):
    """A :class:`~resilience.algorithms.SlidingWindowLimiter` shared through ``store``.

    ``name``: the shared limit (every instance using it shares ``limit``; all must use the same
    ``window`` and ``buckets``). ``limit``, ``window`` (seconds), ``buckets``: as the memory
    limiter. ``mode``: ``"periodic"`` (default) or ``"exact"``. ``sync_interval``: seconds
    between periodic syncs (default 0.1). ``expected_instances``: instances assumed before the
    first sync and the divisor of the default ``fallback_limit``. ``fail_open``: decide locally
    (True, default) or reject while the store is down. ``max_backoff``: seconds at most between
    probes of a failed store. ``clock``: local seconds. ``breaker``: a
    :class:`~resilience.backends.fallback.StoreBreaker` shared with other limits on the same
    store, so that one probe at a time asks a failed store for all of them and the failure is
    logged once (every caller's limit of a per-caller quota shares one); default: its own.
    """

    __slots__ = ()
    _TIERED = False

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
    _TIERED = True

    def try_acquire(self, tier: int, n: int = 1) -> Decision:
        """Admit a request of ``tier`` (1..4) and weight ``n`` (>= 1) by the tiered rule."""
        if not 1 <= tier <= TIERS or n < 1:
            raise ValueError(f"tier must be in 1..4 and n >= 1, got tier={tier!r}, n={n!r}")
        return self._acquire(int(tier), n)
