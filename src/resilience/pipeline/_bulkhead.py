"""Bulkhead: at most ``max_concurrent`` calls at once, a bounded queue for the next ones."""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable

from resilience._base.loops import call_soon_threadsafe_if_open
from resilience.algorithms._params import Duration, integer, seconds
from resilience.errors import RejectReason
from resilience.pipeline._core import Attempt, Outcome, Permit, Rejection

_FULL = RejectReason.BULKHEAD.value


class _Waiter:
    """A queued call: a thread (``event``) or a task (``future`` on ``loop``)."""

    __slots__ = ("event", "future", "granted", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.granted = False
        self.loop = loop
        self.event = threading.Event() if loop is None else None
        self.future: asyncio.Future[None] | None = None if loop is None else loop.create_future()

    def wake(self) -> None:
        if self.event is not None:
            self.event.set()
        elif self.loop is not None and self.future is not None:
            call_soon_threadsafe_if_open(self.loop, _resolve, self.future)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _Slot(Permit):
    """A place in a bulkhead; ``queued``: the call waited in the queue for it."""

    __slots__ = ("_bulkhead", "queued")

    def __init__(self, bulkhead: Bulkhead, queued: bool = False) -> None:
        super().__init__()
        self._bulkhead = bulkhead
        self.queued = queued

    def _end(self, outcome: Outcome) -> None:
        self._bulkhead._release()


class Bulkhead:
    """At most ``max_concurrent`` calls run at once; up to ``max_queue`` more wait (first in,
    first out) for a slot, each at most ``queue_timeout`` seconds (None: as long as it takes);
    any further call is refused at once (reason ``bulkhead``).

    One bulkhead serves threads and asyncio tasks together: a thread waits on an event, a task
    awaits a future (the event loop is never blocked), and a freed slot passes to the first
    waiter. A waiting task that is cancelled leaves the queue (or hands back a slot granted at
    that moment). Every permit frees its slot when it ends, ``NOT_RUN`` included. The queue
    timeout is real time (threads and the event loop wait for real); use ``max_queue=0`` for a
    bulkhead that never waits.
    """

    __slots__ = ("_active", "_lock", "_max", "_max_queue", "_queue", "_queue_timeout", "name")

    def __init__(
        self,
        max_concurrent: int,
        *,
        max_queue: int = 0,
        queue_timeout: Duration | None = None,
        name: str = "bulkhead",
    ) -> None:
        self._max = integer("max_concurrent", max_concurrent, minimum=1)
        self._max_queue = integer("max_queue", max_queue, minimum=0)
        self._queue_timeout = (
            None if queue_timeout is None else seconds("queue_timeout", queue_timeout)
        )
        self._active = 0
        self._queue: deque[_Waiter] = deque()
        self._lock = threading.Lock()
        self.name = name

    @property
    def active(self) -> int:
        """Calls holding a slot now."""
        return self._active

    @property
    def queued(self) -> int:
        """Calls waiting for a slot now."""
        return len(self._queue)

    def _enter(self, loop: asyncio.AbstractEventLoop | None) -> _Waiter | Permit | Rejection:
        with self._lock:
            if self._active < self._max:
                self._active += 1
                return _Slot(self)
            if len(self._queue) >= self._max_queue:
                return Rejection(_FULL, None, self.name)
            waiter = _Waiter(loop)
            self._queue.append(waiter)
            return waiter

    def _give_up(self, waiter: _Waiter) -> bool:
        """A waiter stops waiting: True if a slot was granted to it meanwhile (it holds it)."""
        with self._lock:
            if waiter.granted:
                return True
            if waiter in self._queue:  # a release may have dropped it already
                self._queue.remove(waiter)
            return False

    def _release(self) -> None:
        with self._lock:
            while self._queue and self._active <= self._max:
                waiter = self._queue.popleft()
                future = waiter.future
                if future is not None and future.done():
                    continue  # a cancelled task: it gives up by itself
                waiter.granted = True
                waiter.wake()
                return  # the slot passes on: _active unchanged
            self._active -= 1

    def resize(
        self, max_concurrent: int, *, max_queue: int = 0, queue_timeout: Duration | None = None
    ) -> None:
        """Change the bounds in place, keeping the calls that hold a slot and those queued
        (a policy reload that changes the bulkhead: the limit holds across it). A raised
        ``max_concurrent`` grants the queue's first waiters the new slots at once; a lowered
        one admits nobody until enough holders end to bring ``active`` under it. A lowered
        ``max_queue`` refuses new waiters until the queue is shorter; the queued calls keep
        their place and the wait they started with."""
        maximum = integer("max_concurrent", max_concurrent, minimum=1)
        queue = integer("max_queue", max_queue, minimum=0)
        timeout = None if queue_timeout is None else seconds("queue_timeout", queue_timeout)
        with self._lock:
            self._max, self._max_queue, self._queue_timeout = maximum, queue, timeout
            while self._queue and self._active < self._max:
                waiter = self._queue.popleft()
                future = waiter.future
                if future is not None and future.done():
                    continue  # a cancelled task: it gives up by itself
                self._active += 1
                waiter.granted = True
                waiter.wake()

    def admit(self, attempt: Attempt) -> Permit | Rejection:
        """Take a slot, wait in the queue for one (blocking this thread), or refuse."""
        return self.admit_within(self._queue_timeout)

    def admit_within(
        self, wait: float | None, stop_on: Callable[[Callable[[], None]], None] | None = None
    ) -> Permit | Rejection:
        """:meth:`admit` waiting at most ``wait`` seconds in the queue (None: as long as it
        takes) instead of the queue timeout. ``stop_on``: called once, when the call is
        queued, with a function that ends the wait at once (from any thread: a gRPC
        context's ``add_callback`` when the call is cancelled); a wait ended early refuses
        the call unless a slot was granted meanwhile."""
        got = self._enter(None)
        if not isinstance(got, _Waiter):
            return got
        assert got.event is not None
        if stop_on is not None:
            stop_on(got.event.set)
        got.event.wait(wait)  # ends on a grant, a stop or the time out
        if self._give_up(got):  # granted meanwhile: the slot is this call's
            return _Slot(self, queued=True)
        return Rejection(_FULL, None, self.name)

    async def aadmit(self, attempt: Attempt) -> Permit | Rejection:
        """Take a slot, await one in the queue, or refuse."""
        return await self.aadmit_within(self._queue_timeout)

    async def aadmit_within(self, wait: float | None) -> Permit | Rejection:
        """:meth:`aadmit` awaiting at most ``wait`` seconds in the queue (None: as long as it
        takes) instead of the queue timeout. A cancelled task leaves the queue (or hands
        back a slot granted at that moment) and the cancellation propagates."""
        got = self._enter(asyncio.get_running_loop())
        if not isinstance(got, _Waiter):
            return got
        assert got.future is not None
        try:
            if wait is None:
                await got.future
            else:
                await asyncio.wait_for(got.future, wait)
        except asyncio.TimeoutError:
            if self._give_up(got):
                return _Slot(self, queued=True)
            return Rejection(_FULL, None, self.name)
        except asyncio.CancelledError:
            if self._give_up(got):
                self._release()
            raise
        return _Slot(self, queued=True)

    def __repr__(self) -> str:
        return (
            f"Bulkhead(max_concurrent={self._max}, max_queue={self._max_queue}, "
            f"active={self._active}, queued={len(self._queue)})"
        )
