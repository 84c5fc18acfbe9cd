"""Background loops that run periodic mode's sync step: a daemon thread (sync code) or an
asyncio task (aio code). Both start lazily (the limiter starts them on its first decision),
stop on request, and never let the step's failure end the loop (steps report their own)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable

from resilience._base.clock import default_clock
from resilience._base.loops import outside_any_loop

logger = logging.getLogger("resilience.backends")


class SyncThread:
    """Calls ``step()`` every ``interval`` seconds on a daemon thread named ``name``."""

    def __init__(self, step: Callable[[], object], *, interval: float, name: str) -> None:
        self._step = step
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = False
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the loop (idempotent; never again after :meth:`stop`)."""
        with self._lock:
            if not self._started and not self._stop.is_set():
                self._started = True
                self._thread.start()

    def _run(self) -> None:
        delay = self._interval
        while not self._stop.wait(delay):
            began = default_clock()
            try:
                self._step()
            except Exception:  # a step must not raise; if one does, keep syncing
                logger.exception("periodic sync step failed")
            delay = max(0.0, self._interval - (default_clock() - began))

    @property
    def running(self) -> bool:
        """True while the thread runs."""
        return self._thread.is_alive()

    def stop(self, timeout: float = 1.0) -> None:
        """Stop the loop and wait up to ``timeout`` seconds for it to end (idempotent; a
        stopped loop never starts again)."""
        self._stop.set()
        if self._started and self._thread is not threading.current_thread():
            self._thread.join(timeout)


class SyncTask:
    """Awaits ``step()`` every ``interval`` seconds in a task on the running event loop."""

    def __init__(self, step: Callable[[], Awaitable[object]], *, interval: float) -> None:
        self._step = step
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    @property
    def running(self) -> bool:
        """True while the task exists and has not ended."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the task on the running loop (idempotent; never again after :meth:`stop`)."""
        if self._task is None and not self._stopped:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        delay = self._interval
        # The flag as well as the cancellation: a step may swallow a CancelledError, and stop()
        # must still end the loop. A cancel that lands while a command's timeout fires can come
        # out as a timeout error (redis/redis-py#2551 and redis/redis-py#2028;
        # python/cpython#134471 for asyncio.timeout), and with a socket timeout of tens of ms
        # that window is not rare.
        while True:
            await asyncio.sleep(delay)
            if self._stopped:
                return
            began = loop.time()
            try:
                await self._step()
            except Exception:  # a step must not raise; if one does, keep syncing
                if not outside_any_loop():
                    logger.exception("periodic sync step failed")
            if outside_any_loop():  # being closed after its loop closed: end, quietly
                return
            delay = max(0.0, self._interval - (loop.time() - began))

    async def stop(self, timeout: float = 1.0) -> None:
        """Cancel the task and wait up to ``timeout`` seconds for it to end (idempotent; call
        it on the task's loop). A task that outlives the wait ends at its next iteration."""
        self._stopped = True
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=timeout)
