"""Retry and hedging budgets: one per distinct section, shared by the methods that have it,
and kept across a policy reload (a budget split in two would allow twice the extra load)."""

from __future__ import annotations

from typing import Any

from resilience import Policy
from resilience.interceptors._registry import Registry
from resilience.testing import ManualClock


def registry(methods: dict[str, Any]) -> Registry:
    return Registry(Policy.from_dict({"methods": methods}), side="client", clock=ManualClock())


def test_methods_with_the_same_retry_settings_share_one_budget() -> None:
    made = registry({"/a.B/*": {"read": True, "retry": True}})
    first, second = made.state("/a.B/C").retry, made.state("/a.B/D").retry
    assert first is not None
    assert first is second


def test_a_reload_keeps_the_retry_budget_of_unchanged_settings() -> None:
    before = {"/a.B/*": {"read": True, "retry": True}}
    made = registry(before)
    kept = made.state("/a.B/C").retry
    after = made.reloaded(Policy.from_dict({"methods": {**before, "/x.Y/*": {"tier": 3}}}))
    assert after.state("/a.B/D").retry is kept  # a method first seen after the reload


def test_hedging_shares_its_budget_but_keeps_latencies_per_method() -> None:
    before = {"/a.B/*": {"read": True, "hedging": True}}
    made = registry(before)
    first, second = made.state("/a.B/C").hedge, made.state("/a.B/D").hedge
    assert first is not None
    assert second is not None
    assert first.budget is second.budget
    assert first.estimate is not second.estimate
    after = made.reloaded(Policy.from_dict({"methods": {**before, "/x.Y/*": {"tier": 3}}}))
    later = after.state("/a.B/E").hedge
    assert later is not None
    assert later.budget is first.budget


def test_a_method_not_marked_read_gets_neither() -> None:
    made = registry({"*": {"retry": True}, "/a.B/*": {"retry": False, "hedging": True}})
    assert made.state("/a.B/C").hedge is None
    assert made.state("/x.Y/Z").retry is None
