"""Hedge: a second attempt after a delay, the first good answer wins, the loser is cancelled."""

from __future__ import annotations

import asyncio

import pytest

from resilience.algorithms import SreBreaker
from resilience.pipeline import Breaker, Hedge, RetryBudget

from .helpers import Boom, Rig


def callee(r: Rig, durations: list[float], cancelled: list[int]) -> object:
    """Attempt i takes durations[i] seconds of virtual time and answers i."""
    attempt = [0]

    async def call() -> int:
        number = attempt[0]
        attempt[0] += 1
        try:
            await r.time.asleep(durations[number])
        except asyncio.CancelledError:
            cancelled.append(number)
            raise
        return number

    return call


def test_a_slow_first_attempt_is_hedged_and_cancelled(r: Rig) -> None:
    breaker = SreBreaker(clock=r.clock)
    cancelled: list[int] = []
    pipe = r.pipeline([Hedge(delay=0.1), Breaker(breaker)], idempotent=True)
    start = r.clock()
    assert asyncio.run(pipe.acall(callee(r, [5.0, 0.05], cancelled))) == 1  # type: ignore[arg-type]
    assert r.clock() - start == pytest.approx(0.15)
    assert cancelled == [0]
    assert sorted(r.tracker.kinds("breaker")) == ["cancelled", "success"]
    assert breaker.counts() == (1, 1)  # the loser says nothing about the callee
    assert r.recorder.names() == ["pipeline.hedge"]
    r.tracker.assert_all_ended()


def test_a_fast_first_attempt_sends_no_hedge(r: Rig) -> None:
    cancelled: list[int] = []
    pipe = r.pipeline([Hedge(delay=0.1)], idempotent=True)
    assert asyncio.run(pipe.acall(callee(r, [0.05], cancelled))) == 0  # type: ignore[arg-type]
    assert r.recorder.names() == []


def test_an_empty_budget_sends_no_hedge(r: Rig) -> None:
    budget = RetryBudget(0.0, min_retries=0, clock=r.clock)
    pipe = r.pipeline([Hedge(delay=0.1, budget=budget)], idempotent=True)
    assert asyncio.run(pipe.acall(callee(r, [1.0], []))) == 0  # type: ignore[arg-type]
    assert r.recorder.names() == ["pipeline.retry_budget_exhausted"]


def test_a_failed_hedge_leaves_the_first_attempt_running(r: Rig) -> None:
    attempt = [0]

    async def call() -> str:
        attempt[0] += 1
        if attempt[0] == 2:
            raise Boom
        await r.time.asleep(1.0)
        return "first"

    pipe = r.pipeline([Hedge(delay=0.1)], idempotent=True)
    assert asyncio.run(pipe.acall(call)) == "first"


def test_every_attempt_failing_raises_the_last_failure(r: Rig) -> None:
    async def call() -> None:
        await r.time.asleep(0.2)
        raise Boom

    pipe = r.pipeline([Hedge(delay=0.1)], idempotent=True)
    with pytest.raises(Boom):
        asyncio.run(pipe.acall(call))


def test_the_delay_follows_observed_latency() -> None:
    hedge = Hedge(percentile=90, samples=100, min_samples=10)
    assert hedge.hedge_delay() is None
    for latency in range(1, 11):
        hedge.observe(latency / 100)
    assert hedge.hedge_delay() == pytest.approx(0.09)


def test_hedging_is_asyncio_only(r: Rig) -> None:
    pipe = r.pipeline([Hedge(delay=0.1)], idempotent=True)
    with pytest.raises(TypeError, match="asyncio-only"):
        pipe.call(lambda: None)
