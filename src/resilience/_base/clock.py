"""Clocks: a clock is any zero-argument callable returning seconds as a float.

The algorithms read time only through an injected clock so that tests can drive them with
:class:`resilience.testing.ManualClock` and never sleep. Clocks must not go backwards; the
default is :func:`time.monotonic`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Clock = Callable[[], float]
"""A zero-argument callable returning the current time in seconds (monotonic, non-negative)."""

default_clock: Clock = time.monotonic


class ManualClock:
    """A clock that moves only when told to: ``clock()`` returns seconds, ``advance(s)`` moves it.

    Thread-safe. Starts at ``start`` seconds (default 0.0). Used by deterministic tests and by the
    simulators; pass it as ``clock=`` to any algorithm.
    """

    __slots__ = ("_lock", "_now")

    def __init__(self, start: float = 0.0) -> None:
        if start < 0:
            raise ValueError(f"start must be >= 0 seconds, got {start!r}")
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (>= 0) and return the new time."""
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0 (clocks never go back), got {seconds!r}")
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, now: float) -> None:
        """Jump to the absolute time ``now``, which must not be earlier than the current time."""
        with self._lock:
            if now < self._now:
                raise ValueError(f"now must be >= {self._now} (clocks never go back), got {now!r}")
            self._now = float(now)

    def __repr__(self) -> str:
        return f"ManualClock({self._now!r})"


NO_DEADLINE_BEYOND = 1e9
"""Seconds (about 31.7 years): a deadline further away than this means the call has none.

A sync gRPC server's ``context.time_remaining()`` reads about 9.2e18 s for a call without a
deadline (the C core's infinite future, INT64_MAX seconds); a ``grpc.aio`` server reads None.
No real deadline is that far: gRPC clients cannot even send one past about 7.5e9 s from now
(their absolute deadline, in int64 nanoseconds since 1970, overflows), and such a timeout makes
the call fail at once with DEADLINE_EXCEEDED."""


def finite_remaining(remaining: float | None) -> float | None:
    """``remaining`` seconds as read from a gRPC context, or None when it means no deadline
    (None, gRPC's "infinite" value, anything beyond :data:`NO_DEADLINE_BEYOND`, or NaN)."""
    if remaining is None or not remaining <= NO_DEADLINE_BEYOND:
        return None
    return remaining


def remaining_until(deadline: float | None, now: float) -> float | None:
    """Seconds from ``now`` to ``deadline`` (negative once passed), or None when there is no
    usable deadline (see :func:`finite_remaining`): an inherited deadline that far away is
    never turned into a timeout for gRPC."""
    return None if deadline is None else finite_remaining(deadline - now)
