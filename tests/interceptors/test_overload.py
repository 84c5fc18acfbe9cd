"""The server's overload guard: a shed call ends RESOURCE_EXHAUSTED naming the overload, and
every admitted call releases its permit with its latency exactly once."""

from __future__ import annotations

import grpc
import pytest

from resilience._base.keys import PUSHBACK, REJECT
from resilience.algorithms import ALLOWED, Decision, OverloadGuard
from resilience.context import tier
from resilience.interceptors import _method_state
from resilience.policy import OverloadSettings, Policy
from resilience.testing import EchoBehavior

from .harness import SHAPES, Failure, Harness, masked_by_grpc_aio


class Guard(OverloadGuard):
    """Sheds tiers 3 and 4 as a saturated OverloadGuard would; counts releases."""

    def __init__(self) -> None:
        super().__init__()
        self.released: list[float] = []

    def try_acquire(self, tier: int) -> Decision:
        return ALLOWED if tier <= 2 else Decision(False, 0.25, "overload")

    def release(self, latency: float) -> None:
        self.released.append(latency)


@pytest.fixture
def guard(monkeypatch: pytest.MonkeyPatch) -> Guard:
    made = Guard()

    def build(settings: OverloadSettings, clock: object) -> Guard:
        return made

    monkeypatch.setattr(_method_state, "build_overload", build)
    return made


POLICY = Policy.from_dict({"trusted_peers": ["127.0.0.1/32"], "methods": {"*": {"overload": True}}})


@pytest.mark.parametrize("shape", SHAPES)
def test_shed_tier_is_refused_and_admitted_calls_release_once(
    harness: Harness, guard: Guard, shape: str
) -> None:
    behavior = EchoBehavior()
    server = harness.server(behavior=behavior, policy=POLICY)
    client = harness.client(server.address)

    with tier(1):
        admitted = client.call(shape)
    with tier(3):
        shed = client.call(shape)

    assert isinstance(admitted, list)
    assert len(guard.released) == 1
    if masked_by_grpc_aio(harness, shape, shed):
        return
    assert isinstance(shed, Failure)
    assert shed.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert shed.details.startswith("resilience: rejected by overload (tier 3")
    assert shed.trailing[REJECT] == "overload"
    assert shed.trailing[PUSHBACK] == "250"


def test_a_handler_that_fails_still_releases_its_permit(harness: Harness, guard: Guard) -> None:
    server = harness.server(behavior=EchoBehavior(raise_error=True), policy=POLICY)
    client = harness.client(server.address)

    with tier(1):
        client.call()

    assert len(guard.released) == 1


class Counting(Guard):
    """A :class:`Guard` that also counts the calls it admitted that never ran."""

    def __init__(self) -> None:
        super().__init__()
        self.abandoned = 0

    def abandon(self) -> None:
        self.abandoned += 1


def test_a_call_the_rate_limit_refuses_is_abandoned_not_released(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard admitted the call, then the rate limit refused it: the call never ran, so
    its guard permit ends as not run (one call fewer in flight, no latency counted), as a
    pipeline's Overload stage ends it, not released with the rejection's few microseconds."""
    guard = Counting()
    monkeypatch.setattr(_method_state, "build_overload", lambda settings, clock: guard)
    policy = Policy.from_dict(
        {"methods": {"*": {"overload": True, "rate_limit": {"limit": 1, "window": 60.0}}}}
    )
    server = harness.server(policy=policy)
    client = harness.client(server.address)

    admitted, limited = client.call(), client.call()

    assert isinstance(admitted, list)
    assert isinstance(limited, Failure)
    assert limited.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert limited.trailing[REJECT] == "rate_limit"
    assert (len(guard.released), guard.abandoned) == (1, 1)
