"""Helpers of the conformance suite (the fixtures in conftest.py are built on them); other test
packages may import them too: a loopback address nobody listens on, an event loop on a thread of
its own, and a bounded wait for a condition that settles on another thread."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

from ports import free_port

T = TypeVar("T")


def closed_address() -> str:
    """A ``127.0.0.1:port`` address with nothing listening (the port was bound, then freed)."""
    return f"127.0.0.1:{free_port()}"


class LoopThread:
    """An asyncio event loop running on a daemon thread; ``run`` executes a coroutine on it
    from synchronous test code and returns its result (or raises its exception)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Schedules ``coro`` on the loop; the returned future settles with its outcome."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Runs ``coro`` on the loop and waits at most ``timeout`` seconds for its outcome."""
        return self.submit(coro).result(timeout)

    def close(self) -> None:
        """Cancels what is still pending, stops the loop and joins its thread."""

        async def cancel_pending() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.run(cancel_pending())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Polls ``condition`` until it holds or ``timeout`` seconds pass; returns its last value.

    For invariants that settle shortly after a call ends on another thread (an end report, a
    released permit); a test asserts the returned value, never the time it took."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return condition()
        time.sleep(0.01)
    return True
