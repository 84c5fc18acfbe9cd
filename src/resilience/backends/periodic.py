"""Background loops that run periodic mode's sync step: a daemon thread (sync code) or an
asyncio task (aio code). Both start lazily (the limiter starts them on its first decision),
stop on request, and never let the step's failure end the loop (steps report their own)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable

from resilience._clock import default_clock

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
        """Start the loop (idempotent)."""
        with self._lock:
            if not self._started:
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

    def stop(self, timeout: float = 1.0) -> None:
        """Stop the loop and wait up to ``timeout`` seconds for it to end."""
        self._stop.set()
        if self._started and self._thread is not threading.current_thread():
            self._thread.join(timeout)


class SyncTask:
    """Awaits ``step()`` every ``interval`` seconds in a task on the running event loop."""

    def __init__(self, step: Callable[[], Awaitable[object]], *, interval: float) -> None:
        self._step = step
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the task on the running loop unless it already runs there."""
        task = self._task
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        delay = self._interval
        while True:
            await asyncio.sleep(delay)
            began = loop.time()
            try:
                await self._step()
            except Exception:  # a step must not raise; if one does, keep syncing
                logger.exception("periodic sync step failed")
            delay = max(0.0, self._interval - (loop.time() - began))

    async def stop(self) -> None:
        """Cancel the task and wait for it to end."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
