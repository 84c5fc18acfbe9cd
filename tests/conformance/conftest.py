"""Generic fixtures for the conformance suite: the sync/aio flavour, a loopback address nobody
listens on, and an event loop on a thread of its own so that aio servers and channels can be
shared by every test of a module (pytest-asyncio gives each test function its own loop).

The suite runs each scenario of a real service through the library and compares it with what
bare gRPC gives; each module builds its own servers on 127.0.0.1 port 0 with these pieces.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

import pytest

T = TypeVar("T")


def closed_address() -> str:
    """A ``127.0.0.1:port`` address with nothing listening (the port was bound, then freed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"127.0.0.1:{port}"


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


@pytest.fixture(params=["sync", "aio"])
def flavour(request: pytest.FixtureRequest) -> str:
    """``"sync"`` or ``"aio"``: every scenario runs both ways."""
    return str(request.param)


@pytest.fixture(scope="module")
def loop_thread() -> Iterator[LoopThread]:
    """One event loop thread per test module, for aio servers and channels shared by its tests."""
    made = LoopThread()
    try:
        yield made
    finally:
        made.close()
