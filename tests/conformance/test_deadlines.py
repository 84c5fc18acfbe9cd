"""Deadlines over three hops (caller -> A -> B, A calling B through the client interceptor):
none at any hop, one at the first hop only, one at every hop; sync and aio; the default
policy and one with every part on. Each case asserts the outcome and the seconds each handler
reads from ``resilience.context.time_remaining()``: None without a deadline (gRPC's sync server
reads about 9.2e18 s there), else at most what its caller had left."""

from __future__ import annotations

import grpc
import pytest

from timing import Stopwatch

from ._chain import EVERYTHING_ON, POLICIES, Outcome, Scenario, run

SLACK = 0.05
"""Seconds of rounding in gRPC's timeout header (8 digits at most) and of clock reads."""

FIRST = 5.0
"""The caller's timeout when the first hop sets one (s)."""

HOP = 2.0
"""The timeout A's handler sets on its call to B when every hop sets one (s)."""

T_MAX = float(EVERYTHING_ON["methods"]["*"]["timeout"]["t_max"])
"""The dynamic timeout of the everything-on policy: its client sends at most this (s)."""

QUIET_BOUND = 1.0
"""Seconds one scenario (its servers started, the call through both hops) takes at most on a
quiet host; a call that failed (a deadline, the shortest being 2 s, passed first) is judged
against it, so a host that kept the run from running explains the failure (tests/timing.py)."""

DEADLINES = {
    "none": (None, None),
    "first hop only": (FIRST, None),
    "every hop": (FIRST, HOP),
}


def _bound(*limits: float | None) -> float | None:
    """The least of the limits that exist (None when none does)."""
    present = [limit for limit in limits if limit is not None]
    return min(present) if present else None


def _within(remaining: float | None, bound: float | None) -> bool:
    if bound is None:
        return remaining is None
    return remaining is not None and 0 < remaining <= bound + SLACK


def _run(scenario: Scenario, aio: bool) -> Outcome | None:
    """The scenario's outcome, or None when it failed only because the host kept this process
    from running (not judged, counted in the timing summary)."""
    with Stopwatch() as watch:
        outcome = run(scenario, aio)
    if outcome.code is not grpc.StatusCode.OK and not watch.within(QUIET_BOUND, "the call"):
        return None
    return outcome


@pytest.mark.parametrize("policy", list(POLICIES))
@pytest.mark.parametrize("deadlines", list(DEADLINES))
def test_each_hop_reads_what_its_caller_had_left(flavour: str, policy: str, deadlines: str) -> None:
    first, hop = DEADLINES[deadlines]
    scenario = Scenario(policy=POLICIES[policy], first_timeout=first, hop_timeout=hop)

    outcome = _run(scenario, aio=flavour == "aio")
    if outcome is None:
        return
    assert (outcome.code, outcome.response) == (grpc.StatusCode.OK, b"from B"), outcome.details
    dynamic = T_MAX if policy == "everything" else None  # the policy's timeout on every call
    a, b = outcome.hops()["A"].remaining, outcome.hops()["B"].remaining
    assert _within(a, _bound(first, dynamic)), a
    assert _within(b, _bound(hop, dynamic, None if a is None else a)), (a, b)


@pytest.mark.parametrize("policy", list(POLICIES))
def test_a_caller_without_the_library_and_without_a_deadline(flavour: str, policy: str) -> None:
    """The plain caller of a sync server used to make A read 9.2e18 s, and A's call to B then
    failed at once with DEADLINE_EXCEEDED (the caller saw INTERNAL)."""
    scenario = Scenario(policy=POLICIES[policy], intercepted_caller=False)

    outcome = _run(scenario, aio=flavour == "aio")
    if outcome is None:
        return
    assert (outcome.code, outcome.response) == (grpc.StatusCode.OK, b"from B"), outcome.details
    hops = outcome.hops()
    assert hops["A"].remaining is None
    if policy == "default":
        assert hops["B"].remaining is None
    else:
        assert _within(hops["B"].remaining, T_MAX)
