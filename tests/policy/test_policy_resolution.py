"""Which settings a method gets: defaults, then `*`, then its service, then itself, key by key."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from resilience.policy import (
    BreakerSettings,
    MethodSettings,
    Policy,
    RateLimitSettings,
    TimeoutSettings,
)
from resilience.policy._schema import DEFAULT_FAILURE_CODES

BROWSE = "/shop.Catalog/Browse"
CATALOG = "/shop.Catalog/*"


def policy(methods: dict[str, Any]) -> Policy:
    return Policy.from_dict({"methods": methods})


def test_the_default_policy_breaks_and_propagates_but_limits_nothing() -> None:
    settings = Policy.default().settings_for(BROWSE)
    assert settings == MethodSettings()
    assert settings.breaker == BreakerSettings()
    assert (settings.timeout, settings.rate_limit, settings.overload) == (None, None, None)
    assert settings.propagate
    assert settings.failover
    assert not settings.read
    assert settings.tier == 2
    assert settings.failure_codes == DEFAULT_FAILURE_CODES


def test_section_defaults_are_the_algorithm_defaults() -> None:
    breaker = BreakerSettings()
    assert (breaker.k, breaker.window, breaker.buckets) == (2.0, 10.0, 40)
    assert (breaker.min_requests, breaker.max_drop, breaker.probe_interval) == (20, 0.9, 1.0)
    timeout = TimeoutSettings()
    assert (timeout.t_avg, timeout.t_hwm, timeout.t_max, timeout.n) == (0.060, 0.250, 0.500, 80)
    limit = RateLimitSettings(limit=10)
    assert (limit.window, limit.buckets, limit.store, limit.mode) == (1.0, 10, "memory", "periodic")


@pytest.mark.parametrize(
    ("method", "tier"),
    [(BROWSE, 3), ("/shop.Catalog/Search", 2), ("/shop.Cart/Add", 1), ("not-a-method", 1)],
)
def test_the_most_specific_pattern_wins(method: str, tier: int) -> None:
    chosen = policy({"*": {"tier": 1}, CATALOG: {"tier": 2}, BROWSE: {"tier": 3}})
    assert chosen.settings_for(method).tier == tier


def test_a_method_pattern_applies_without_a_service_pattern() -> None:
    chosen = policy({"*": {"read": True}, BROWSE: {"tier": 4}})
    assert chosen.settings_for(BROWSE).tier == 4
    assert chosen.settings_for(BROWSE).read
    assert chosen.settings_for("/shop.Catalog/Other").tier == 2


def test_section_tables_merge_key_by_key() -> None:
    chosen = policy(
        {
            "*": {"breaker": {"k": 1.5}},
            CATALOG: {"breaker": {"min_requests": 50}},
            BROWSE: {"breaker": {"window": "3s"}},
        }
    )
    assert chosen.settings_for(BROWSE).breaker == BreakerSettings(k=1.5, min_requests=50, window=3)
    assert chosen.settings_for("/shop.Catalog/X").breaker == BreakerSettings(k=1.5, min_requests=50)
    assert chosen.settings_for("/other.S/M").breaker == BreakerSettings(k=1.5)


def test_false_turns_a_section_off_and_true_on_with_defaults() -> None:
    chosen = policy({"*": {"breaker": False}, BROWSE: {"breaker": True, "timeout": True}})
    assert chosen.settings_for("/shop.Catalog/X").breaker is None
    assert chosen.settings_for(BROWSE).breaker == BreakerSettings()
    assert chosen.settings_for(BROWSE).timeout == TimeoutSettings()


def test_a_switch_keeps_keys_given_by_less_specific_patterns() -> None:
    chosen = policy(
        {"*": {"timeout": {"t_max": 1.0}}, CATALOG: {"timeout": False}, BROWSE: {"timeout": True}}
    )
    assert chosen.settings_for("/shop.Catalog/X").timeout is None
    assert chosen.settings_for(BROWSE).timeout == TimeoutSettings(t_max=1.0)
    assert chosen.settings_for("/a.B/C").timeout == TimeoutSettings(t_max=1.0)


def test_a_table_turns_an_off_section_back_on() -> None:
    chosen = policy({CATALOG: {"breaker": False}, BROWSE: {"breaker": {"k": 3}}})
    assert chosen.settings_for(BROWSE).breaker == BreakerSettings(k=3)


def test_plain_keys_are_replaced_not_merged() -> None:
    chosen = policy({"*": {"failure_codes": ["UNAVAILABLE"]}, BROWSE: {"failure_codes": []}})
    assert chosen.settings_for("/x.Y/Z").failure_codes == {grpc.StatusCode.UNAVAILABLE}
    assert chosen.settings_for(BROWSE).failure_codes == frozenset()


def test_a_rate_limit_is_shared_by_the_methods_its_pattern_matches() -> None:
    chosen = policy(
        {CATALOG: {"rate_limit": {"limit": 100}}, BROWSE: {"rate_limit": {"tiered": True}}}
    )
    assert chosen.settings_for("/shop.Catalog/A").rate_limit == RateLimitSettings(
        limit=100, key=CATALOG
    )
    assert chosen.settings_for("/shop.Catalog/B").rate_limit == RateLimitSettings(
        limit=100, key=CATALOG
    )
    assert chosen.settings_for(BROWSE).rate_limit == RateLimitSettings(
        limit=100, tiered=True, key=BROWSE
    )


def test_an_explicit_rate_limit_key_is_kept() -> None:
    chosen = policy({"*": {"rate_limit": {"limit": 5, "key": "global"}}})
    limit = chosen.settings_for(BROWSE).rate_limit
    assert limit is not None
    assert limit.key == "global"


def test_equal_settings_mean_unchanged_for_a_reload() -> None:
    old = policy({CATALOG: {"timeout": True}, BROWSE: {"tier": 1}})
    new = policy({CATALOG: {"timeout": True}, BROWSE: {"tier": 3}})
    assert old.settings_for("/shop.Catalog/X") == new.settings_for("/shop.Catalog/X")
    assert old.settings_for(BROWSE) != new.settings_for(BROWSE)
    assert old != new
    assert old == policy({CATALOG: {"timeout": True}, BROWSE: {"tier": 1}})


def test_sections_may_be_given_as_settings_objects() -> None:
    chosen = policy({BROWSE: {"timeout": TimeoutSettings(t_max=2.0), "breaker": False}})
    assert chosen.settings_for(BROWSE).timeout == TimeoutSettings(t_max=2.0)
    assert chosen.settings_for(BROWSE).breaker is None


def test_the_constructor_takes_the_same_tree_as_from_dict() -> None:
    methods = {"*": {"tier": 1}}
    assert Policy(methods=methods, trusted_peers=["::1"]) == Policy.from_dict(
        {"methods": methods, "trusted_peers": ["::1"]}
    )
    assert Policy().fallback == MethodSettings()
