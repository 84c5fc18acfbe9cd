"""Property: for any policy, settings_for equals a direct reading of the resolution rule, in any
lookup order and whatever the cache size."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from resilience.policy import BreakerSettings, Policy

PATTERNS = ["*", "/a.S/*", "/b.S/*", "/a.S/M", "/a.S/N", "/b.S/M", "/c.S/M"]
METHODS = ["/a.S/M", "/a.S/N", "/a.S/O", "/b.S/M", "/b.S/X", "/c.S/M", "/d.S/M", "junk"]

breaker_values = st.one_of(
    st.booleans(),
    st.fixed_dictionaries(
        {},
        optional={
            "k": st.sampled_from([1.0, 1.5, 3.0]),
            "min_requests": st.integers(0, 50),
            "window": st.sampled_from(["1s", 5, 10.0]),
        },
    ),
)
entries = st.fixed_dictionaries(
    {}, optional={"tier": st.integers(1, 4), "read": st.booleans(), "breaker": breaker_values}
)
policies = st.dictionaries(st.sampled_from(PATTERNS), entries)


def chain(methods: dict[str, dict[str, Any]], method: str) -> list[dict[str, Any]]:
    service = method.rpartition("/")[0] + "/*"
    names = ["*", service if method.startswith("/") else None, method]
    return [methods[name] for name in names if name in methods]


def expected(methods: dict[str, dict[str, Any]], method: str) -> tuple[Any, ...]:
    tier, read, on, keys = 2, False, True, {}
    for layer in chain(methods, method):
        tier = layer.get("tier", tier)
        read = layer.get("read", read)
        breaker = layer.get("breaker")
        if isinstance(breaker, bool):
            on = breaker
        elif breaker is not None:
            on = True
            keys.update(breaker)
    return tier, read, BreakerSettings(**keys) if on else None


@settings(max_examples=150, deadline=None)
@given(
    methods=policies,
    order=st.lists(st.sampled_from(METHODS), max_size=30),
    cache_size=st.integers(1, 4),
)
def test_lookup_follows_the_rule(
    methods: dict[str, dict[str, Any]], order: list[str], cache_size: int
) -> None:
    policy = Policy(methods=methods, cache_size=cache_size)
    for method in [*order, *METHODS]:
        found = policy.settings_for(method)
        assert (found.tier, found.read, found.breaker) == expected(methods, method)
