"""The shared limiters apply the in-memory limiters' rules exactly: decision for decision as
the memory SlidingWindowLimiter / TieredLimiter, on the memory store and on Redis, in exact mode
and in periodic mode (one instance, synced after every step or every few steps)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from resilience._base.clock import Clock, ManualClock
from resilience.algorithms import SlidingWindowLimiter, TieredLimiter
from resilience.backends import (
    MemoryStore,
    RedisStore,
    SharedSlidingWindowLimiter,
    SharedTieredLimiter,
    Store,
)

from .traces import BUCKETS, LIMIT, MODES, SEEDS, WINDOW, sync_after, trace


@pytest.fixture(params=["memory", "redis"])
def store_and_clock(
    request: pytest.FixtureRequest, prefix: str
) -> Iterator[tuple[Store, ManualClock]]:
    clock = ManualClock(100.0)
    if request.param == "memory":
        yield MemoryStore(clock=clock), clock
        return
    url = request.getfixturevalue("redis_url")
    store = RedisStore.from_url(url, prefix=prefix, clock=clock, socket_timeout=2.0)
    yield store, clock
    store.close()


def shared_limiter(
    store: Store, clock: Clock, *, tiered: bool, mode: str, limit: int = LIMIT
) -> SharedSlidingWindowLimiter | SharedTieredLimiter:
    kind = SharedTieredLimiter if tiered else SharedSlidingWindowLimiter
    return kind(
        store,
        name="rules",
        limit=limit,
        window=WINDOW,
        buckets=BUCKETS,
        mode="exact" if mode == "exact" else "periodic",
        sync_interval=3600.0,  # the test syncs by hand
        clock=clock,
    )


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("tiered", [False, True], ids=["sliding", "tiered"])
def test_every_decision_matches_the_memory_algorithm(
    store_and_clock: tuple[Store, ManualClock], tiered: bool, mode: str, seed: int
) -> None:
    store, clock = store_and_clock
    shared = shared_limiter(store, clock, tiered=tiered, mode=mode)
    reference: SlidingWindowLimiter | TieredLimiter
    reference = (TieredLimiter if tiered else SlidingWindowLimiter)(
        LIMIT, WINDOW, BUCKETS, clock=clock
    )
    try:
        for index, step in enumerate(trace(seed)):
            clock.advance(step.advance_ms / 1000)
            if isinstance(reference, TieredLimiter):
                assert isinstance(shared, SharedTieredLimiter)
                expected, got = (
                    reference.try_acquire(step.tier, step.n),
                    shared.try_acquire(step.tier, step.n),
                )
            else:
                assert isinstance(shared, SharedSlidingWindowLimiter)
                expected, got = reference.try_acquire(step.n), shared.try_acquire(step.n)
            where = f"step {index} {step} at {clock():.3f}"
            assert (got.allowed, got.reason) == (expected.allowed, expected.reason), where
            assert got.retry_after == pytest.approx(expected.retry_after, abs=1e-6), where
            if sync_after(mode, index):
                assert shared.sync_now()
    finally:
        shared.close()
    assert not shared.fallback


@pytest.mark.parametrize("mode", MODES)
def test_tiers_reach_the_worked_steady_state(
    store_and_clock: tuple[Store, ManualClock], mode: str
) -> None:
    """Limit 100/s, demand 50/40/40/100 per second for tiers 1..4 -> admitted 50/40/10/0."""
    store, clock = store_and_clock
    shared = shared_limiter(store, clock, tiered=True, mode=mode, limit=100)
    assert isinstance(shared, SharedTieredLimiter)
    demand = {1: 5, 2: 4, 3: 4, 4: 10}  # per 100 ms slot
    admitted = dict.fromkeys(demand, 0)
    try:
        for tick in range(60):  # 6 s in 10 ms ticks of the 100 ms slots
            for _ in range(10):
                clock.advance(0.010)
                for tier, per_slot in demand.items():
                    if tick >= 30 and _ < per_slot:  # spread over the slot's first ticks
                        admitted[tier] += shared.try_acquire(tier).allowed
                    elif _ < per_slot:
                        shared.try_acquire(tier)
            if mode != "exact":
                shared.sync_now()
    finally:
        shared.close()
    rates = {tier: count / 3 for tier, count in admitted.items()}
    assert rates == pytest.approx({1: 50, 2: 40, 3: 10, 4: 0}, abs=2.5)


class SteppingClock:
    """A clock a test sets anywhere, backwards too (as a store host's wall clock after a
    time step): ManualClock refuses to go back."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("tiered", [False, True], ids=["sliding", "tiered"])
@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_a_store_clock_that_goes_back_counts_in_the_newest_slot(
    request: pytest.FixtureRequest, kind: str, tiered: bool
) -> None:
    """Redis (``decide.lua``) counts a request stamped before the ring's newest slot in that
    slot, as the memory algorithms do; the memory store keeps the same ring, so it agrees."""
    clock = SteppingClock(100.0)
    store: Store
    if kind == "memory":
        store = MemoryStore(clock=clock)
    else:
        url = request.getfixturevalue("redis_url")
        store = RedisStore.from_url(
            url, prefix=request.getfixturevalue("prefix"), clock=clock, socket_timeout=2.0
        )
    shared = shared_limiter(store, clock, tiered=tiered, mode="exact", limit=6)
    reference = (TieredLimiter if tiered else SlidingWindowLimiter)(6, WINDOW, BUCKETS, clock=clock)
    # Five into slot 1005, three stamped 300 ms earlier (slot 1002), then on again.
    times = [100.50] * 5 + [100.22] * 3 + [100.55, 100.55, 100.61, 101.45, 101.45, 101.62]
    tiers = [1, 1, 2, 1, 3, 1, 4, 1, 2, 1, 1, 1, 4, 1]
    try:
        for index, (now, tier) in enumerate(zip(times, tiers, strict=True)):
            clock.now = now
            if isinstance(reference, TieredLimiter):
                assert isinstance(shared, SharedTieredLimiter)
                expected, got = reference.try_acquire(tier, 1), shared.try_acquire(tier, 1)
            else:
                assert isinstance(shared, SharedSlidingWindowLimiter)
                expected, got = reference.try_acquire(1), shared.try_acquire(1)
            where = f"step {index} at {now}"
            assert (got.allowed, got.reason) == (expected.allowed, expected.reason), where
    finally:
        shared.close()
        store.close()
    assert not shared.fallback
