"""A policy whose limit names a Redis store gets a shared limiter from the interceptors'
registry: instances built from the same policy share one limit."""

from __future__ import annotations

import time

from resilience.backends import SharedSlidingWindowLimiter
from resilience.interceptors._registry import Registry
from resilience.policy import Policy


def test_a_redis_store_in_the_policy_shares_the_limit_between_registries(
    patient_redis_url: str, prefix: str
) -> None:
    policy = Policy.from_dict(
        {
            "methods": {
                "/shop.Cart/*": {
                    "rate_limit": {
                        "limit": 5,
                        "store": patient_redis_url,
                        "mode": "exact",
                        "key": prefix,
                    }
                }
            }
        }
    )
    first = Registry(policy, side="server", clock=time.monotonic)
    second = Registry(policy, side="server", clock=time.monotonic)
    limiters = [first.state("/shop.Cart/Add").limiter, second.state("/shop.Cart/Remove").limiter]
    assert all(limiter is not None for limiter in limiters)
    decisions = [limiters[i % 2].try_acquire(2).allowed for i in range(7)]  # type: ignore[union-attr]
    assert decisions == [True] * 5 + [False] * 2
    assert isinstance(getattr(limiters[0], "limiter", None), SharedSlidingWindowLimiter)
