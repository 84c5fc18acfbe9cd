"""A bug inside a policy, an observer or the metadata code never fails the RPC: it is logged
once per kind (a warning with the traceback) and the call proceeds without that part."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from resilience.algorithms import (
    EmaTimeout,
    OverloadGuard,
    SlidingWindowLimiter,
    SreBreaker,
    TieredLimiter,
)
from resilience.context import tier
from resilience.events import default_gauge_registry
from resilience.interceptors import _guard, _metadata
from resilience.pipeline import _bulkhead
from resilience.policy import Policy
from resilience.profiling import _calls

from .harness import SHAPES, Harness
from .test_bulkhead import wait_until

EVERYTHING = Policy.from_dict(
    {
        "methods": {
            "*": {
                "timeout": {"t_avg": 1.0, "t_hwm": 2.0, "t_max": 5.0, "streams": True},
                "rate_limit": {"limit": 1000, "window": 1.0},
                "overload": True,
            },
            "/resilience.testing.Echo/ClientStream": {
                "rate_limit": {"limit": 1000, "window": 1.0, "tiered": True}
            },
        }
    }
)

BROKEN = [
    # what the compiled admissions call (the public methods call them too)
    (SreBreaker, "_admit_at"),
    (SreBreaker, "_record_at"),
    (EmaTimeout, "observe"),
    (EmaTimeout, "timeout"),
    (Policy, "settings_for"),
    (Policy, "is_trusted_peer"),
    (SlidingWindowLimiter, "_acquire_at"),
    (TieredLimiter, "_acquire_at"),
    (OverloadGuard, "_acquire_at"),
    (OverloadGuard, "release"),
    (_metadata, "outgoing"),
    (_metadata, "incoming"),
]


NAMED: list[tuple[Any, str]] = BROKEN


def broken(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("a bug in the library")


class BrokenObserver:
    def call_started(self, call: Any) -> None:
        raise RuntimeError("observer bug")

    def call_ended(self, call: Any, outcome: Any) -> None:
        raise RuntimeError("observer bug")

    def event(self, name: str, attributes: Any) -> None:
        raise RuntimeError("observer bug")


@pytest.mark.parametrize(
    ("owner", "name"), BROKEN, ids=[f"{getattr(o, '__name__', o)}.{n}" for o, n in BROKEN]
)
def test_a_raising_policy_part_does_not_fail_the_call(
    harness: Harness,
    owner: Any,
    name: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(owner, name, broken)
    server = harness.server(policy=EVERYTHING)
    client = harness.client(server.address, policy=EVERYTHING)

    # tier 1 differs from the policy's, so the server asks whether the peer may claim it
    with caplog.at_level(logging.WARNING, logger="resilience"), tier(1):
        results = [client.call(shape) for shape in SHAPES for _ in range(2)]

    assert all(isinstance(result, list) for result in results)
    warnings = [r for r in caplog.records if r.name == "resilience"]
    assert 1 <= len(warnings) <= 2  # once per kind and side, not once per call
    assert all(r.exc_info is not None for r in warnings)


def test_raising_observers_do_not_fail_calls(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    server = harness.server(observers=[BrokenObserver()])
    client = harness.client(server.address, observers=[BrokenObserver()])

    with caplog.at_level(logging.WARNING, logger="resilience"):
        results = [client.call(shape) for shape in SHAPES]

    assert all(isinstance(result, list) for result in results)
    assert len([r for r in caplog.records if r.name == "resilience"]) == 2  # started, ended


def out_of_memory(*args: Any, **kwargs: Any) -> Any:
    raise MemoryError


def test_a_method_state_that_cannot_be_built_is_logged_and_counted(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Building a method's breaker fails (as a huge window would with MemoryError): the calls
    still go through, unprotected, and the failure is logged once and counted per call."""
    monkeypatch.setattr(SreBreaker, "__init__", out_of_memory)
    server = harness.server(policy=EVERYTHING)
    client = harness.client(server.address, policy=EVERYTHING)
    before = _guard.fault_counts().get("method state", 0)

    with caplog.at_level(logging.WARNING, logger="resilience"):
        results = [client.call(shape) for shape in SHAPES]

    assert all(isinstance(result, list) for result in results)
    assert _guard.fault_counts()["method state"] >= before + len(SHAPES)
    warnings = [r for r in caplog.records if r.name == "resilience"]
    assert len(warnings) == 1
    assert "method state raised MemoryError" in warnings[0].getMessage()
    exported = {
        reading.name: reading.value
        for reading in default_gauge_registry().readings()
        if reading.name.startswith("internal_errors.")
    }
    assert exported["internal_errors.method state"] >= before + len(SHAPES)


BULKHEAD_BOTH_SIDES = Policy.from_dict(
    {"methods": {"*": {"breaker": False, "bulkhead": {"max_concurrent": 10, "side": "both"}}}}
)


def test_a_bulkhead_that_fails_to_free_a_place_does_not_fail_the_call(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Freeing a bulkhead place raises (a bug; or waking a waiter whose event loop is closed):
    every call of every shape still gets its answer, and the fault is logged once per side."""
    monkeypatch.setattr(_bulkhead._Slot, "_end", broken)
    server = harness.server(policy=BULKHEAD_BOTH_SIDES)
    client = harness.client(server.address, policy=BULKHEAD_BOTH_SIDES)
    before = _guard.fault_counts()

    with caplog.at_level(logging.WARNING, logger="resilience"):
        results = [client.call(shape) for shape in SHAPES for _ in range(2)]

    assert all(isinstance(result, list) for result in results)
    for where in ("client bulkhead end", "server bulkhead end"):  # a server ends after its
        expected = before.get(where, 0) + 2 * len(SHAPES)  # answer: it may lag the client
        assert wait_until(lambda: _guard.fault_counts().get(where, 0) >= expected)  # noqa: B023
    warnings = [r for r in caplog.records if r.name == "resilience"]
    assert len(warnings) <= 2  # once per side at most (an earlier test may have logged it)
    assert all(r.exc_info is not None for r in warnings)


def test_a_failing_profiler_end_does_not_fail_the_call(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a profiler armed, unregistering a server call raises (a bug, or a latency
    trigger's sink that raises): the calls still get their answers, the fault is counted."""
    monkeypatch.setattr(_calls, "end", broken)
    _calls.arm()
    try:
        server = harness.server(policy=EVERYTHING)
        client = harness.client(server.address, policy=EVERYTHING)
        before = _guard.fault_counts().get("server profiler end", 0)
        results = [client.call(shape) for shape in SHAPES]
    finally:
        _calls.disarm()

    assert all(isinstance(result, list) for result in results)
    expected = before + len(SHAPES)  # a server call ends after its answer: it may lag
    assert wait_until(lambda: _guard.fault_counts().get("server profiler end", 0) >= expected)
