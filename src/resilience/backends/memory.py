"""The in-process store: limiters in one process share named limits, with the Redis semantics.

Useful for several servers in one process, for tests and simulations (pass a ManualClock), and
as the reference the Redis store is tested against. A policy whose store is ``memory`` does
not need it: it gets the plain algorithms, which are faster.
"""

from __future__ import annotations

import threading

from resilience._base.clock import Clock, default_clock
from resilience.algorithms._decision import Decision
from resilience.algorithms._window import RollingCounter
from resilience.backends._rules import decide_on_ring
from resilience.backends._spec import Counts, Deltas, LimitSpec, Snapshot, to_us


class _Limit:
    """One named limit's counts: a :class:`RollingCounter` over slot indices, holding what
    ``decide.lua`` and ``exchange.lua`` keep in the limit's Redis hash (the newest slot, a
    running total per channel, ``buckets + 1`` positions cleared as the ring moves), and the
    live instances with the store time (us) they last synced."""

    __slots__ = ("instances", "ring")

    def __init__(self, spec: LimitSpec) -> None:
        self.ring = RollingCounter(window=spec.window, buckets=spec.buckets, channels=spec.channels)
        self.instances: dict[str, int] = {}

    def counts(self) -> Counts:
        """Every channel's counts over the ring, oldest slot first (a snapshot's counts)."""
        ring = self.ring
        return [[int(count) for count in ring.slots(c)] for c in range(len(ring.rows[0]))]


class MemoryStore:
    """A :class:`~resilience.backends.Store` in this process's memory. Thread-safe.

    ``clock``: seconds (default ``time.monotonic``); shared by every limiter using this store,
    so slot boundaries agree among them.
    """

    def __init__(self, *, clock: Clock = default_clock) -> None:
        self._clock = clock
        self._limits: dict[tuple[str, float, int, bool], _Limit] = {}
        self._lock = threading.Lock()

    @property
    def description(self) -> str:
        return "memory"

    def now(self) -> float:
        """The store's clock."""
        return self._clock()

    def _limit(self, spec: LimitSpec) -> _Limit:
        key = (spec.name, spec.window, spec.buckets, spec.tiered)
        limit = self._limits.get(key)
        if limit is None:
            limit = self._limits[key] = _Limit(spec)
        return limit

    def decide(self, spec: LimitSpec, tier: int, n: int) -> Decision:
        now_us = to_us(self._clock())
        current, into = divmod(now_us, spec.slot_us)
        with self._lock:
            ring = self._limit(spec).ring
            # A clock gone back leaves the ring at its newest slot and counts there, as Redis.
            totals, newest, _ = ring.advance_to(current)
            decision = decide_on_ring(spec, ring, 0, tier, n, into / 1e6)
            k = tier - 1 if spec.tiered else 0
            demand = spec.tiers + k
            newest[demand] += n
            totals[demand] += n
            if decision.allowed:
                newest[k] += n
                totals[k] += n
        return decision

    def exchange(self, spec: LimitSpec, instance: str, deltas: Deltas) -> Snapshot:
        now_us = to_us(self._clock())
        current = now_us // spec.slot_us
        with self._lock:
            limit = self._limit(spec)
            ring = limit.ring
            ring.advance_to(current)
            newest = ring.current
            for slot_index, amounts in deltas.items():
                # A slot older than the ring has expired, a future one counts as the newest.
                for channel, amount in enumerate(amounts[: spec.channels]):
                    ring.add_at(min(slot_index, newest), channel, amount)
            horizon = now_us - spec.buckets * spec.slot_us
            others = [
                now_us - seen
                for name, seen in limit.instances.items()
                if seen > horizon and name != instance
            ]
            live = {name: seen for name, seen in limit.instances.items() if seen > horizon}
            live[instance] = now_us
            limit.instances = live
            ages = tuple(age / 1e6 for age in others)
            return Snapshot(now_us, newest, len(others) + 1, limit.counts(), ages)

    def ping(self) -> None:
        """Always reachable."""

    def close(self) -> None:
        """Nothing to release."""


class AioMemoryStore:
    """The asyncio face of a :class:`MemoryStore` (its operations never wait on I/O)."""

    def __init__(self, store: MemoryStore | None = None, *, clock: Clock = default_clock) -> None:
        self.sync_store = store if store is not None else MemoryStore(clock=clock)

    @property
    def description(self) -> str:
        return self.sync_store.description

    def now(self) -> float:
        """The store's clock."""
        return self.sync_store.now()

    async def decide(self, spec: LimitSpec, tier: int, n: int) -> Decision:
        return self.sync_store.decide(spec, tier, n)

    async def exchange(self, spec: LimitSpec, instance: str, deltas: Deltas) -> Snapshot:
        return self.sync_store.exchange(spec, instance, deltas)

    async def ping(self) -> None:
        """Always reachable."""

    async def aclose(self) -> None:
        """Nothing to release."""

    close = aclose
