"""Worker processes for test_processes.py: each paces requests at a fixed offered rate against
one shared limit on Redis, from a common wall-clock start, and reports what it saw."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from resilience.backends import RedisStore, SharedSlidingWindowLimiter, SharedTieredLimiter

Call = tuple[float, float, int, bool, bool]
"""One request: wall-clock time before and after the decision, tier, admitted, and whether it
was decided locally (the limiter was falling back when it returned)."""


@dataclass
class Report:
    """What one worker saw: admissions per tier (after ``measure_from``), every request it
    made (see :data:`Call`), and whether its limiter ever fell back to local limiting."""

    admitted: dict[int, int]
    calls: list[Call]
    fell_back: bool


def warm_up(seconds: float) -> None:
    """Run in a worker before the measurement: this module (and the limiters) are imported
    by now; the sleep spreads the warm-ups over every worker of the pool."""
    time.sleep(seconds)


def run_sliding(
    url: str,
    prefix: str,
    mode: str,
    limit: int,
    rate: float,
    start: float,
    seconds: float,
    instances: int = 1,
) -> Report:
    """One instance of a sliding-window limit with the store's default socket timeout (the
    defaults must hold on a loaded host; what falls back is reported, not excluded)."""
    store = RedisStore.from_url(url, prefix=prefix)
    limiter = SharedSlidingWindowLimiter(
        store,
        name="shared",
        limit=limit,
        mode="exact" if mode == "exact" else "periodic",
        expected_instances=instances,
    )
    try:
        return _pace(lambda _: limiter.try_acquire().allowed, limiter, (1,), rate, start, seconds)
    finally:
        limiter.close()
        store.close()


def run_tiered(
    url: str,
    prefix: str,
    limit: int,
    mix: tuple[int, ...],
    rate: float,
    start: float,
    seconds: float,
    mode: str = "periodic",
    instances: int = 1,
) -> Report:
    """One instance of a tiered limit (as :func:`run_sliding`)."""
    store = RedisStore.from_url(url, prefix=prefix)
    limiter = SharedTieredLimiter(
        store,
        name="gateway",
        limit=limit,
        mode="exact" if mode == "exact" else "periodic",
        expected_instances=instances,
    )
    try:
        return _pace(
            lambda tier: limiter.try_acquire(tier).allowed, limiter, mix, rate, start, seconds
        )
    finally:
        limiter.close()
        store.close()


def _pace(
    acquire: Callable[[int], bool],
    limiter: SharedSlidingWindowLimiter | SharedTieredLimiter,
    mix: tuple[int, ...],
    rate: float,
    start: float,
    seconds: float,
) -> Report:
    """Offer ``rate`` requests/s from ``start`` (time.time()) for ``seconds``, tiers cycling
    through ``mix``; count admissions from the second second on (the first fills the window)."""
    admitted = dict.fromkeys(set(mix), 0)
    fell_back = False
    calls: list[Call] = []
    while time.time() < start:
        time.sleep(0.001)
    measure_from, end = start + 1.0, start + seconds
    index = 0
    while True:
        due = start + index / rate
        now = time.time()
        if now >= end:
            break
        if due > now:
            time.sleep(due - now)
        tier = mix[index % len(mix)]
        before = time.time()
        allowed = acquire(tier)
        local = limiter.fallback
        calls.append((before, time.time(), tier, allowed, local))
        fell_back = fell_back or local
        if due >= measure_from:
            admitted[tier] += int(allowed)
        index += 1
    return Report(admitted, calls, fell_back)
