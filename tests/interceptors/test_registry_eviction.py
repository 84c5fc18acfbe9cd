"""A registry holds at most ``max_methods`` method states; when full, a new method evicts one
not called since the eviction sweep last passed it, so methods in use keep their breaker and
timeout history while one-off method names stream through."""

from __future__ import annotations

from resilience.interceptors._registry import Registry
from resilience.policy import Policy
from resilience.testing import ManualClock

POLICY = Policy.from_dict({"methods": {"*": {"breaker": {"min_requests": 5}}}})


def registry(max_methods: int) -> Registry:
    return Registry(POLICY, side="client", clock=ManualClock(), max_methods=max_methods)


def test_a_method_called_between_one_off_names_keeps_its_state() -> None:
    methods = registry(4)
    hot = methods.state("/svc.Api/Hot")
    for i in range(100):
        methods.state(f"/svc.Scan/Method{i}")
        assert methods.state("/svc.Api/Hot") is hot

    assert len(methods._states) == 4


def test_methods_no_longer_called_are_evicted_oldest_first() -> None:
    methods = registry(3)
    first, second = methods.state("/svc.A/One"), methods.state("/svc.A/Two")
    methods.state("/svc.A/Three")
    methods.state("/svc.A/Four")  # none called twice: the oldest goes
    assert set(methods._states) == {"/svc.A/Two", "/svc.A/Three", "/svc.A/Four"}

    assert methods.state("/svc.A/Two") is second  # called again: marked
    methods.state("/svc.A/Five")  # evicts Three, the oldest unmarked one, not Two
    assert set(methods._states) == {"/svc.A/Two", "/svc.A/Four", "/svc.A/Five"}
    assert methods.state("/svc.A/One") is not first  # evicted earlier: built anew


def test_bytes_and_str_names_share_the_bound() -> None:
    methods = registry(2)
    for i in range(10):
        methods.state(f"/svc.B/M{i}".encode())
        methods.state(f"/svc.B/S{i}")
    assert len(methods._states) == 2
