"""Wall-clock bounds that a loaded host cannot turn red.

A few tests bound a real duration from above: a call ends at its deadline, a fallback resumes
within a second, a slow Redis is cut at its socket timeout. On a quiet host the bound holds; on a
host whose CPUs are taken by other work, the process may simply not run for a while, and the
bound then says nothing about the code.

:class:`Stopwatch` times a block and, meanwhile, a ticker thread that wakes every
:data:`TICK` seconds adds up how late each wake-up was: the seconds this process was kept from
running (``lost``). :meth:`Stopwatch.within` then judges only what the run could measure:

- the block ended within the bound: judged, passed;
- it overran by no more than the time lost: not judged; the reason is recorded, counted and
  printed in pytest's terminal summary (and kept in the JUnit report's properties), so a run
  that judged nothing says so instead of passing silently;
- it overran by more than the host explains: an ``AssertionError`` with every figure.

Lower bounds (a delay fault held the call at least 50 ms) need none of this: load only
lengthens a duration.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

TICK = 0.005
"""Seconds between the ticker's wake-ups."""


@dataclass
class Tally:
    """The session's timing verdicts: how many bounds were judged and which were not (test
    id, reason)."""

    judged: int = 0
    unmeasured: list[tuple[str, str]] = field(default_factory=list)


TALLY = Tally()


def current_test() -> str:
    """The id of the running test (from ``PYTEST_CURRENT_TEST``), or ``"?"`` outside one."""
    return os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" ", 1)[0]


def unmeasured(reason: str) -> None:
    """Record that the running test could not judge a timing bound, and why."""
    TALLY.unmeasured.append((current_test(), reason))


def judge(what: str, elapsed: float, bound: float, lost: float) -> bool:
    """Judge ``elapsed <= bound`` (seconds) given ``lost`` seconds of stall: True when judged
    and held, False when not judged (recorded with its reason), AssertionError otherwise."""
    if elapsed <= bound:
        TALLY.judged += 1
        return True
    overrun = elapsed - bound
    figures = f"took {elapsed:.3f} s against a bound of {bound:.3f} s (over by {overrun:.3f} s)"
    if overrun <= lost:
        unmeasured(f"{what}: {figures}, while the host kept this process from running {lost:.3f} s")
        return False
    raise AssertionError(
        f"{what}: {figures}; the host kept this process from running only {lost:.3f} s, "
        "which does not explain it"
    )


class Stopwatch:
    """Times a ``with`` block (``elapsed``, seconds) and the stall of this process meanwhile
    (``lost``: the sum of the ticker's lateness, seconds; ``longest``: its worst single one)."""

    def __init__(self) -> None:
        self.elapsed = 0.0
        self.lost = 0.0
        self.longest = 0.0
        self._began = 0.0
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="stopwatch-ticker", daemon=True)

    def __enter__(self) -> Stopwatch:
        self._ticker.start()
        self._began = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.monotonic() - self._began
        self._stop.set()
        self._ticker.join()

    def _tick(self) -> None:
        due = time.monotonic() + TICK
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            late = time.monotonic() - due
            if late > 0:
                self.lost += late
                self.longest = max(self.longest, late)
            due = max(due + TICK, time.monotonic())

    def within(self, bound: float, what: str) -> bool:
        """Judge ``elapsed <= bound`` (see :func:`judge`)."""
        return judge(what, self.elapsed, bound, self.lost)
