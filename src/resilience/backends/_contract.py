"""The store contract: what a shared limiter needs from the place its counts live.

Two operations, in the store's own time (Redis: server ``TIME``; memory: its clock):

- ``decide`` (exact mode): evaluate the limit's rule for ``n`` requests of ``tier`` and record
  the demand and, if admitted, the admission, atomically; at most one round trip.
- ``exchange`` (periodic mode): add an instance's unpushed counts, note the instance as alive,
  and return the global counts, in one round trip.

A store raises on any I/O problem; the limiters turn failures into their fallback, never into a
failed call. :class:`Store` does blocking I/O (threads); :class:`AioStore` is its asyncio twin
and never blocks the event loop.
"""

from __future__ import annotations

from typing import Protocol

from resilience.algorithms._decision import Decision
from resilience.backends._spec import Deltas, LimitSpec, Snapshot


class Store(Protocol):
    """Shared counts with blocking I/O."""

    @property
    def description(self) -> str:
        """Where the counts live, safe to log (no password)."""

    def now(self) -> float:
        """The store's time in seconds as well as it is known here, without I/O (periodic
        mode's first guess, before a sync measures the offset)."""

    def decide(self, spec: LimitSpec, tier: int, n: int) -> Decision:
        """Exact mode: one atomic decision (tier is ignored by a sliding-window limit)."""

    def exchange(self, spec: LimitSpec, instance: str, deltas: Deltas) -> Snapshot:
        """Periodic mode: push ``deltas`` of ``instance``, pull the global counts."""

    def ping(self) -> None:
        """Raise if the store cannot be reached."""

    def close(self) -> None:
        """Release connections (idempotent)."""


class AioStore(Protocol):
    """Shared counts with asyncio I/O: the same operations as :class:`Store`, awaited."""

    @property
    def description(self) -> str:
        """Where the counts live, safe to log (no password)."""

    def now(self) -> float:
        """The store's time in seconds as well as it is known here, without I/O."""

    async def decide(self, spec: LimitSpec, tier: int, n: int) -> Decision:
        """Exact mode: one atomic decision (tier is ignored by a sliding-window limit)."""

    async def exchange(self, spec: LimitSpec, instance: str, deltas: Deltas) -> Snapshot:
        """Periodic mode: push ``deltas`` of ``instance``, pull the global counts."""

    async def ping(self) -> None:
        """Raise if the store cannot be reached."""

    async def aclose(self) -> None:
        """Release connections (idempotent), on the event loop that used them."""
