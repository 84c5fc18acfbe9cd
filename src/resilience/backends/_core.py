"""What the sync and asyncio shared limiters have in common: everything but the I/O.

A shared limiter holds its limit's :class:`LimitSpec`, the breaker around the store, a local
fallback limiter of ``fallback_limit`` (default ``limit // expected_instances``) and, in
periodic mode, the :class:`PeriodicView` that decides without I/O.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Literal

from resilience._clock import Clock
from resilience._events import GaugeReading
from resilience.algorithms import SlidingWindowLimiter, TieredLimiter
from resilience.algorithms._decision import Decision
from resilience.algorithms._params import Duration, integer, seconds
from resilience.backends._spec import LimitSpec, Snapshot
from resilience.backends._view import PeriodicView
from resilience.backends.fallback import DEFAULT_INITIAL_BACKOFF, StoreBreaker
from resilience.errors import RejectReason

Mode = Literal["periodic", "exact"]
MODES: tuple[Mode, ...] = ("periodic", "exact")
_RATE_LIMIT = RejectReason.RATE_LIMIT.value


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
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be 'periodic' or 'exact', got {mode!r}")
        instances = integer("expected_instances", expected_instances, minimum=1)
        self.spec = LimitSpec(name, limit, seconds("window", window), buckets, tiered)
        self.exact = mode == "exact"
        self.sync_interval = seconds("sync_interval", sync_interval)
        self.fail_open = bool(fail_open)
        local_limit = limit // instances if fallback_limit is None else fallback_limit
        local_limit = integer("fallback_limit", local_limit, minimum=0)
        self.local_acquire: Callable[[int, int], Decision]
        if tiered:
            self.local_acquire = TieredLimiter(
                local_limit, window, buckets, clock=clock
            ).try_acquire
        else:
            sliding = SlidingWindowLimiter(local_limit, window, buckets, clock=clock)
            self.local_acquire = lambda _tier, n: sliding.try_acquire(n)
        behaviour = (
            f"deciding locally with a limit of {local_limit} per {self.spec.window:g} s"
            if self.fail_open
            else "rejecting every call (fail_open=False)"
        )
        self.breaker = StoreBreaker(
            limit_name=name,
            store=store,
            local_behaviour=behaviour,
            initial_backoff=min(DEFAULT_INITIAL_BACKOFF, max_backoff),
            max_backoff=max_backoff,
            clock=clock,
        )
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
        decision = self.local_acquire(tier, n)
        if self.view is not None:
            self.view.record(tier, n, decision.allowed)
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
