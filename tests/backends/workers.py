"""Worker processes for test_processes.py: each paces requests at a fixed offered rate against
one shared limit on Redis, from a common wall-clock start, and reports what it saw."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from resilience.backends import RedisStore, SharedSlidingWindowLimiter, SharedTieredLimiter

SOCKET_TIMEOUT = 0.25
"""Generous on purpose: the test machine is shared, and these tests measure accuracy, not the
fallback (test_outage.py cuts at the default 10 ms)."""


@dataclass
class Report:
    """What one worker saw: admissions per tier (after ``measure_from``), the wall-clock time
    of every request it made, and whether its limiter ever fell back to local limiting."""

    admitted: dict[int, int]
    calls: list[float]
    fell_back: bool


def run_sliding(
    url: str, prefix: str, mode: str, limit: int, rate: float, start: float, seconds: float
) -> Report:
    store = RedisStore.from_url(url, prefix=prefix, socket_timeout=SOCKET_TIMEOUT)
    limiter = SharedSlidingWindowLimiter(
        store, name="shared", limit=limit, mode="exact" if mode == "exact" else "periodic"
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
) -> Report:
    store = RedisStore.from_url(url, prefix=prefix, socket_timeout=SOCKET_TIMEOUT)
    limiter = SharedTieredLimiter(store, name="gateway", limit=limit)
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
    calls: list[float] = []
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
        calls.append(time.time())
        allowed = acquire(tier)
        fell_back = fell_back or limiter.fallback
        if due >= measure_from:
            admitted[tier] += int(allowed)
        index += 1
    return Report(admitted, calls, fell_back)
