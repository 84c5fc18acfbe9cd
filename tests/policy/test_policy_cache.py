"""settings_for: constant time after the first lookup, bounded memory, thread-safe."""

from __future__ import annotations

import threading

from resilience.policy import Policy

BROWSE = "/shop.Catalog/Browse"


def make_policy(cache_size: int = 4096) -> Policy:
    return Policy(
        methods={"/shop.Catalog/*": {"read": True}, BROWSE: {"tier": 1}}, cache_size=cache_size
    )


def cache_len(policy: Policy) -> int:
    return len(policy._cache)


def test_repeated_lookups_return_the_same_settings_object() -> None:
    policy = make_policy()
    first = policy.settings_for("/shop.Catalog/Search")
    assert policy.settings_for("/shop.Catalog/Search") is first
    assert policy.settings_for("/shop.Catalog/Other") is first  # one object per pattern


def test_a_flood_of_unknown_names_cannot_grow_the_cache() -> None:
    policy = make_policy(cache_size=4096)
    fallback = policy.settings_for("/x.Y/Z")
    for index in range(100_000):
        assert policy.settings_for(f"/flood.Service/M{index}") is fallback
        assert cache_len(policy) <= 4096 + 1  # + the policy's own method
    assert policy.settings_for(BROWSE).tier == 1  # the policy's own methods survive a flush
    assert BROWSE in policy._cache


def test_concurrent_lookups_agree_and_stay_bounded() -> None:
    policy = make_policy(cache_size=64)
    errors: list[str] = []

    def look_up(worker: int) -> None:
        for index in range(2_000):
            method = f"/shop.Catalog/M{worker}_{index}" if index % 2 else BROWSE
            settings = policy.settings_for(method)
            expected = 1 if method == BROWSE else 2
            if settings.tier != expected or not settings.read:
                errors.append(method)

    threads = [threading.Thread(target=look_up, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert cache_len(policy) <= 64 + 1
