"""Fixtures: a sync or aio harness per test (parametrized), and a reset of logged faults."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from resilience.interceptors import _guard

from .harness import KINDS, AioHarness, Harness


@pytest.fixture(params=KINDS)
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """Echo servers and clients of one kind; every server and channel is closed afterwards.
    ``-protected``: the stack installed with ``protect`` (protected channel and server)
    instead of as gRPC interceptors; every scenario must behave the same both ways."""
    flavour, _, how = request.param.partition("-")
    protected = how == "protected"
    made = AioHarness(protected) if flavour == "aio" else Harness(protected)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(autouse=True)
def _fresh_fault_log() -> Iterator[None]:
    """Each test sees the first occurrence of a library fault logged as a warning."""
    _guard._seen.clear()
    yield
    _guard._seen.clear()
