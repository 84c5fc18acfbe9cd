"""Tiers: a claimed tier is honored only from a trusted peer; under a tiered limit, less
critical tiers are shed to keep capacity the critical tier asked for."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from resilience._base.keys import PUSHBACK, REJECT
from resilience.context import current_tier, tier
from resilience.policy import Policy
from resilience.testing import ECHO_METHODS, EchoBehavior, ManualClock

from .harness import Failure, Harness

LOOPBACK = ["127.0.0.1/32", "::1/128"]


@pytest.mark.parametrize(("trusted", "seen_tier"), [(LOOPBACK, 1), ([], 4)])
def test_tier_claim_is_honored_only_from_trusted_peers(
    harness: Harness, trusted: list[str], seen_tier: int
) -> None:
    seen: list[int | None] = []
    policy = Policy.from_dict({"trusted_peers": trusted, "methods": {"*": {"tier": 4}}})
    behavior = EchoBehavior(on_call=lambda r, c: seen.append(current_tier()))
    server = harness.server(behavior=behavior, policy=policy)
    client = harness.client(server.address)

    with tier(1):
        client.call()

    assert seen == [seen_tier]


def test_less_critical_tier_is_shed_to_keep_what_tier_1_asked_for(harness: Harness) -> None:
    clock = ManualClock(100.0)
    policy = Policy.from_dict(
        {
            "trusted_peers": LOOPBACK,
            "methods": {"*": {"rate_limit": {"limit": 10, "window": 1.0, "tiered": True}}},
        }
    )
    server = harness.server(policy=policy, clock=clock)
    client = harness.client(server.address)

    def calls(claimed: int, count: int) -> list[Any]:
        with tier(claimed):
            return [client.call() for _ in range(count)]

    assert calls(1, 8) == [[b"ping"]] * 8
    clock.advance(1.0)  # tier 1's demand of 8 is now the last complete window's

    tier3 = calls(3, 3)
    assert tier3[:2] == [[b"ping"]] * 2
    shed = tier3[2]
    assert isinstance(shed, Failure)
    assert shed.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    method = ECHO_METHODS["unary_unary"]
    assert shed.details == (
        f"resilience: rejected by shed (tier 3; limit 10 per 1s on * (this call: {method}))"
    )
    assert shed.trailing[REJECT] == "shed"
    assert PUSHBACK not in shed.trailing
    assert calls(1, 1) == [[b"ping"]]
