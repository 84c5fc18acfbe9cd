"""Deterministic stand-ins for randomness and CPU readings."""

from __future__ import annotations

import random


class FixedRandom(random.Random):
    """A Random whose ``random()`` returns ``value``: 0.0 always drops when p > 0, 0.999 never
    drops while p <= 0.9."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


class FakeCpu:
    """A CPU sampler returning ``utilization`` and counting its calls."""

    def __init__(self, utilization: float = 0.0) -> None:
        self.utilization = utilization
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return self.utilization
