"""The in-process store: limiters in one process share named limits, with the Redis semantics.

Useful for several servers in one process, for tests and simulations (pass a ManualClock), and
as the reference the Redis store is tested against. A policy whose store is ``memory`` does
not need it: it gets the plain algorithms, which are faster.
"""

from __future__ import annotations

import threading

from resilience._base.clock import Clock, default_clock
from resilience.algorithms._decision import Decision
from resilience.backends._rules import decide_on_counts
from resilience.backends._spec import Counts, Deltas, LimitSpec, Snapshot, to_us


class _Ring:
    """``size`` positions; position ``slot % size`` holds slot ``slots[p]`` (or -1) and its
    per-channel counts. The same layout as the Redis hash ``decide.lua`` maintains."""

    __slots__ = ("counts", "instances", "size", "slots")

    def __init__(self, spec: LimitSpec) -> None:
        self.size = spec.size
        self.slots = [-1] * spec.size
        self.counts = [[0] * spec.size for _ in range(spec.channels)]
        self.instances: dict[str, int] = {}

    def read(self, current: int) -> Counts:
        size, slots = self.size, self.slots
        out: Counts = []
        for row in self.counts:
            out.append(
                [
                    row[s % size] if slots[s % size] == s else 0
                    for s in range(current - size + 1, current + 1)
                ]
            )
        return out

    def add(self, slot_index: int, amounts: list[int]) -> None:
        position = slot_index % self.size
        if self.slots[position] != slot_index:
            if self.slots[position] > slot_index:
                return  # the position already holds a newer slot: this one has expired
            self.slots[position] = slot_index
            for row in self.counts:
                row[position] = 0
        for row, amount in zip(self.counts, amounts, strict=False):
            row[position] += amount


class MemoryStore:
    """A :class:`~resilience.backends.Store` in this process's memory. Thread-safe.

    ``clock``: seconds (default ``time.monotonic``); shared by every limiter using this store,
    so slot boundaries agree among them.
    """

    def __init__(self, *, clock: Clock = default_clock) -> None:
        self._clock = clock
        self._rings: dict[tuple[str, float, int, bool], _Ring] = {}
        self._lock = threading.Lock()

    @property
    def description(self) -> str:
        return "memory"

    def now(self) -> float:
        """The store's clock."""
        return self._clock()

    def _ring(self, spec: LimitSpec) -> _Ring:
        key = (spec.name, spec.window, spec.buckets, spec.tiered)
        ring = self._rings.get(key)
        if ring is None:
            ring = self._rings[key] = _Ring(spec)
        return ring

    def decide(self, spec: LimitSpec, tier: int, n: int) -> Decision:
        now_us = to_us(self._clock())
        current, into = divmod(now_us, spec.slot_us)
        with self._lock:
            ring = self._ring(spec)
            decision = decide_on_counts(spec, ring.read(current), tier, n, into / 1e6)
            tier = tier if spec.tiered else 1
            amounts = [0] * spec.channels
            amounts[spec.tiers + tier - 1] = n
            if decision.allowed:
                amounts[tier - 1] = n
            ring.add(current, amounts)
        return decision

    def exchange(self, spec: LimitSpec, instance: str, deltas: Deltas) -> Snapshot:
        now_us = to_us(self._clock())
        current = now_us // spec.slot_us
        with self._lock:
            ring = self._ring(spec)
            for slot_index, amounts in deltas.items():
                if slot_index > current - spec.size:
                    ring.add(min(slot_index, current), amounts)
            horizon = now_us - spec.buckets * spec.slot_us
            others = [
                now_us - seen
                for name, seen in ring.instances.items()
                if seen > horizon and name != instance
            ]
            ring.instances = {name: seen for name, seen in ring.instances.items() if seen > horizon}
            ring.instances[instance] = now_us
            ages = tuple(age / 1e6 for age in others)
            return Snapshot(now_us, current, len(others) + 1, ring.read(current), ages)

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
