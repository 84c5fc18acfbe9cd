"""Load triggers with hysteresis: a signal turns a trigger on once it stays at or above its
``enter`` threshold for ``enter_after`` seconds, and off once it stays at or below its
``exit`` threshold for ``exit_after`` seconds. Between the two thresholds nothing changes, so
a signal wavering around one threshold does not start and stop profiling over and over.

Pure: the caller passes the time (seconds, any monotonic clock) and the signal's value.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable


class Hysteresis:
    """One trigger. Requires ``exit <= enter`` and non-negative durations."""

    __slots__ = ("_since", "active", "enter", "enter_after", "exit", "exit_after", "name")

    def __init__(
        self, name: str, enter: float, exit: float, enter_after: float, exit_after: float
    ) -> None:
        if not exit <= enter:
            raise ValueError(f"{name}: the exit threshold {exit} must not exceed enter {enter}")
        if enter_after < 0 or exit_after < 0:
            raise ValueError(f"{name}: enter_after and exit_after must be >= 0 seconds")
        self.name = name
        self.enter = enter
        self.exit = exit
        self.enter_after = enter_after
        self.exit_after = exit_after
        self.active = False
        self._since: float | None = None

    def update(self, now: float, value: float) -> bool:
        """Feed the signal's value at ``now``; whether the trigger is on afterwards. A NaN
        value (no reading, e.g. no calls) counts as calm: below ``exit``, never above ``enter``."""
        if math.isnan(value):  # no reading: calm, which only counts towards leaving
            crossing = self.active
        else:
            crossing = value <= self.exit if self.active else value >= self.enter
        if not crossing:
            self._since = None
            return self.active
        if self._since is None:
            self._since = now
        if now - self._since >= (self.exit_after if self.active else self.enter_after):
            self.active = not self.active
            self._since = None
        return self.active


class LatencyWindow:
    """The latencies of a method's recent calls (the last ``size``), for a p99 trigger.
    ``add`` is called from server threads; ``quantile`` from the sampler's."""

    __slots__ = ("_values",)

    def __init__(self, size: int = 1000) -> None:
        self._values: deque[float] = deque(maxlen=size)

    def add(self, seconds: float) -> None:
        """Record one call's latency, seconds."""
        self._values.append(seconds)

    def quantile(self, q: float) -> float:
        """The ``q`` quantile (0..1) of the recorded latencies (nearest rank); NaN if none.
        The window is emptied: each check sees the calls since the previous one."""
        values = sorted(self._values)
        self._values.clear()
        if not values:
            return math.nan
        return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]


Signal = Callable[[], float]
"""A load signal read by the profiler every check: CPU usage, in-flight calls, a p99."""
