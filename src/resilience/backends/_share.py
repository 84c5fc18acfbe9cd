"""One instance's own share of an exact-mode shared limit: what it decides by while the store
is skipped (fail-open). Periodic mode applies the same rule to its view's own counts.

The share is a local SlidingWindowLimiter or TieredLimiter of ``share`` requests per window
(default ``limit // expected_instances``). It also counts every decision the store took for
this instance (:meth:`LocalShare.record`), so a fallback starts from what this
instance already admitted in the window, and, tiered, from the demand of the tiers above that
reserves capacity: never from an empty window. What it admits and sees demanded while
falling back is kept per store slot until it is written back to the store
(:meth:`LocalShare.take_unwritten`), so the store counts it on recovery.
"""

from __future__ import annotations

import threading

from resilience._base.clock import Clock
from resilience.algorithms import SlidingWindowLimiter, TieredLimiter
from resilience.algorithms._decision import Decision
from resilience.backends._spec import Deltas, LimitSpec, to_us


class LocalShare:
    """Exact mode's fallback: ``share.limit`` requests per window of ``share``'s geometry, by
    its rule, decided locally. ``clock``: local seconds; ``store_now``: the store's time (the
    slots of the counts written back). Thread-safe."""

    __slots__ = ("_limiter", "_lock", "_spec", "_store_now", "unwritten")

    def __init__(self, share: LimitSpec, *, clock: Clock, store_now: Clock) -> None:
        self._spec = share
        self._limiter: SlidingWindowLimiter | TieredLimiter
        kind = TieredLimiter if share.tiered else SlidingWindowLimiter
        self._limiter = kind(share.limit, share.window, share.buckets, clock=clock)
        self._store_now = store_now
        self._lock = threading.Lock()
        self.unwritten: Deltas = {}
        """Store slot -> per-channel counts decided locally and not yet written back (empty,
        hence false, nearly always: the hot path tests it without the lock)."""

    def record(self, tier: int, n: int, allowed: bool) -> None:
        """Count a decision the store took for this instance (already in the store)."""
        limiter = self._limiter
        if isinstance(limiter, TieredLimiter):
            limiter.record(tier, n, allowed)
        else:
            limiter.record(n, allowed)

    def try_acquire(self, tier: int, n: int) -> Decision:
        """Decide locally within the share, and keep the decision for the store."""
        limiter = self._limiter
        if isinstance(limiter, TieredLimiter):
            decision = limiter.try_acquire(tier, n)
        else:
            decision = limiter.try_acquire(n)
        self._keep(tier, n, decision.allowed)
        return decision

    def _keep(self, tier: int, n: int, allowed: bool) -> None:
        spec = self._spec
        slot = to_us(self._store_now()) // spec.slot_us
        tier = tier if spec.tiered else 1
        with self._lock:
            amounts = self.unwritten.get(slot)
            if amounts is None:
                # A new slot: forget the ones that have left the ring (the store would too).
                oldest = slot - spec.buckets
                self.unwritten = {s: a for s, a in self.unwritten.items() if s >= oldest}
                amounts = self.unwritten[slot] = [0] * spec.channels
            amounts[spec.tiers + tier - 1] += n
            if allowed:
                amounts[tier - 1] += n

    def take_unwritten(self) -> Deltas:
        """The local decisions to write back now (they are forgotten here; :meth:`restore`
        them if the write fails)."""
        with self._lock:
            taken, self.unwritten = self.unwritten, {}
        return taken

    def restore(self, deltas: Deltas) -> None:
        """Keep ``deltas`` (from :meth:`take_unwritten`) for the next write-back."""
        with self._lock:
            for slot, amounts in deltas.items():
                kept = self.unwritten.setdefault(slot, [0] * len(amounts))
                self.unwritten[slot] = [a + b for a, b in zip(kept, amounts, strict=True)]
