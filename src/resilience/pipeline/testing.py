"""Test helpers for pipelines: permits never ended, and time driven by a ManualClock.

clock = ManualClock()
time = VirtualTime(clock)
tracker = PermitTracker()
pipe = Pipeline(tracker.wrap_all([Breaker(breaker), Timeout(0.5)]), clock=clock,
                sleep=time.sleep, asleep=time.asleep)
...
tracker.assert_all_ended()
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Sequence
from typing import Any

from resilience._base.clock import ManualClock
from resilience.pipeline._core import Attempt, Outcome, Permit, Rejection, Stage, Wrapper

__all__ = ["PermitTracker", "TrackedStage", "VirtualTime"]


class _Tracked(Permit):
    __slots__ = ("inner", "outcomes", "stage")

    def __init__(self, inner: Permit, stage: str) -> None:
        super().__init__(inner.timeout)
        self.inner = inner
        self.stage = stage
        self.outcomes: list[Outcome] = []

    def end(self, outcome: Outcome) -> None:
        if self.ended:
            self.outcomes.append(outcome)  # an ignored second end, recorded for ended_twice()
        super().end(outcome)

    def _end(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        self.inner.end(outcome)


class TrackedStage:
    """``stage`` with every permit it gives recorded in ``tracker``."""

    def __init__(self, stage: Stage, tracker: PermitTracker) -> None:
        self.stage = stage
        self.name = stage.name
        self._tracker = tracker

    def _track(self, got: Permit | Rejection) -> Permit | Rejection:
        if isinstance(got, Rejection):
            return got
        tracked = _Tracked(got, self.name)
        self._tracker.permits.append(tracked)
        return tracked

    def admit(self, attempt: Attempt) -> Permit | Rejection:
        return self._track(self.stage.admit(attempt))

    async def aadmit(self, attempt: Attempt) -> Permit | Rejection:
        return self._track(await self.stage.aadmit(attempt))


class PermitTracker:
    """Records the permits of the stages it wraps, to check each ended exactly once."""

    def __init__(self) -> None:
        self.permits: list[_Tracked] = []

    def wrap(self, stage: Stage) -> TrackedStage:
        """``stage``, tracked."""
        return TrackedStage(stage, self)

    def wrap_all(self, stages: Sequence[Stage | Wrapper]) -> list[Any]:
        """Every admission stage of ``stages`` tracked; wrapping stages as they are."""
        return [self.wrap(s) if isinstance(s, Stage) else s for s in stages]

    def unended(self) -> list[str]:
        """The stage names of the permits never ended."""
        return [permit.stage for permit in self.permits if not permit.outcomes]

    def ended_twice(self) -> list[str]:
        """The stage names of the permits ended more than once (the extra ends were ignored)."""
        return [permit.stage for permit in self.permits if len(permit.outcomes) > 1]

    def kinds(self, stage: str) -> list[str]:
        """The first outcome kind of each of ``stage``'s permits, in order of admission."""
        return [str(p.outcomes[0].kind) for p in self.permits if p.stage == stage and p.outcomes]

    def assert_all_ended(self) -> None:
        """Raise AssertionError naming the stages whose permits were not ended exactly once."""
        unended, twice = self.unended(), self.ended_twice()
        if unended or twice:
            raise AssertionError(f"permits never ended: {unended}; ended twice: {twice}")


class VirtualTime:
    """Sleeping on a :class:`ManualClock`: ``sleep(s)`` advances it at once; ``asleep(s)``
    waits until every task that can run has run and no earlier sleeper is left, then moves
    the clock to its wake-up time. Deterministic as long as the code under test waits only on
    ``asleep`` (no real I/O). ``slept``: every sync and async sleep asked for, in order."""

    SETTLE_ROUNDS = 20
    """Event-loop turns given to runnable tasks before time moves."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.slept: list[float] = []
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._driver: asyncio.Task[None] | None = None

    def sleep(self, seconds: float) -> None:
        """Advance the clock by ``seconds``."""
        self.slept.append(seconds)
        self.clock.advance(seconds)

    async def asleep(self, seconds: float) -> None:
        """Wait ``seconds`` of virtual time."""
        self.slept.append(seconds)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._timers, (self.clock() + seconds, next(self._seq), future))
        if self._driver is None or self._driver.done():
            self._driver = loop.create_task(self._drive())
        try:
            await future
        finally:
            future.cancel()  # a no-op once done; a cancelled sleeper's timer is skipped

    async def _drive(self) -> None:
        while self._timers:
            for _ in range(self.SETTLE_ROUNDS):
                await asyncio.sleep(0)
            while self._timers and self._timers[0][2].done():
                heapq.heappop(self._timers)
            if not self._timers:
                return
            when, _, future = heapq.heappop(self._timers)
            if when > self.clock():
                self.clock.set(when)
            future.set_result(None)
