"""Seeded request traces and the limiters that replay them, for the same-rules suites."""

from __future__ import annotations

import random
from dataclasses import dataclass

WINDOW = 1.0
BUCKETS = 10
LIMIT = 12


@dataclass(frozen=True)
class Step:
    """Advance the clock by ``advance_ms``, then ask for ``n`` requests of ``tier``."""

    advance_ms: int
    tier: int
    n: int


def trace(seed: int, length: int = 240) -> list[Step]:
    """Bursts, pauses and slot-boundary crossings; weights mostly 1, sometimes above the limit."""
    rng = random.Random(seed)
    steps = []
    for _ in range(length):
        advance = rng.choice([0, 0, 0, 1, 7, 30, 100, 100, 250, 1300 if rng.random() < 0.05 else 0])
        n = rng.choice([1, 1, 1, 1, 2, 3, LIMIT + 1 if rng.random() < 0.1 else 1])
        steps.append(Step(advance, rng.choice([1, 1, 2, 2, 3, 4]), n))
    return steps


SEEDS = (1, 2, 3)
MODES = ("exact", "periodic-each-step", "periodic-every-7")


def sync_after(mode: str, index: int) -> bool:
    """Whether a periodic limiter in ``mode`` syncs after decision ``index``."""
    if mode == "periodic-each-step":
        return True
    return mode == "periodic-every-7" and index % 7 == 6
