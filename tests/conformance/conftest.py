"""Generic fixtures for the conformance suite: the sync/aio flavour, and an event loop on a
thread of its own so that aio servers and channels can be shared by every test of a module
(pytest-asyncio gives each test function its own loop). The helpers they use live in
:mod:`support` (``closed_address``, ``LoopThread``, ``wait_until``).

The suite runs each scenario of a real service through the library and compares it with what
bare gRPC gives; each module builds its own servers on 127.0.0.1 port 0 with these pieces.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .support import LoopThread, closed_address, wait_until

__all__ = ["LoopThread", "closed_address", "wait_until"]


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
