"""The recommended order end to end, sync and asyncio: every permit ended once, each attempt
seen by the breaker, a fallback when everything inside gives up."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from resilience.algorithms import EmaTimeout, OverloadGuard, SlidingWindowLimiter, SreBreaker
from resilience.pipeline import (
    Breaker,
    Bulkhead,
    Fallback,
    Overload,
    RateLimit,
    Retry,
    RetryBudget,
    Timeout,
)

from .helpers import Boom, Rig


def full_stack(r: Rig, breaker: SreBreaker, limit: int = 100) -> list[Any]:
    return [
        Fallback("fallback"),
        Retry(3, base_delay=0.01, budget=RetryBudget(clock=r.clock), rng=random.Random(3)),
        Breaker(breaker),
        Bulkhead(4),
        Overload(OverloadGuard(cpu_sampler=lambda: 0.0, clock=r.clock)),
        RateLimit(SlidingWindowLimiter(limit, clock=r.clock)),
        Timeout(EmaTimeout(t_avg=0.01, t_hwm=0.1, t_max=0.2)),
    ]


@pytest.mark.parametrize("aio", [False, True])
def test_a_failing_callee_is_retried_then_replaced(r: Rig, aio: bool) -> None:
    breaker = SreBreaker(clock=r.clock)
    pipe = r.pipeline(full_stack(r, breaker), idempotent=True)
    attempts = [0]

    def fail() -> str:
        attempts[0] += 1
        raise Boom

    async def afail() -> str:
        return fail()

    result = asyncio.run(pipe.acall(afail)) if aio else pipe.call(fail)
    assert result == "fallback"
    assert attempts == [3]
    assert breaker.counts() == (3, 0)
    r.tracker.assert_all_ended()
    assert r.recorder.names() == ["pipeline.retry", "pipeline.retry", "pipeline.fallback"]


@pytest.mark.parametrize("aio", [False, True])
def test_a_late_attempt_is_retried_then_answers(r: Rig, aio: bool) -> None:
    breaker = SreBreaker(clock=r.clock)
    pipe = r.pipeline(full_stack(r, breaker), idempotent=True)
    durations = iter([0.5, 0.01])

    def answer() -> str:
        r.clock.advance(next(durations))
        return "fresh"

    async def aanswer() -> str:
        await r.time.asleep(next(durations))
        return "fresh"

    result = asyncio.run(pipe.acall(aanswer)) if aio else pipe.call(answer)
    assert result == "fresh"
    assert breaker.counts() == (2, 1)
    assert r.tracker.kinds("timeout") == ["timeout", "success"]
    r.tracker.assert_all_ended()


def test_a_limit_refusal_is_not_retried_and_falls_back(r: Rig) -> None:
    breaker = SreBreaker(clock=r.clock)
    pipe = r.pipeline(full_stack(r, breaker, limit=0), idempotent=True)
    assert pipe.call(lambda: "fresh") == "fallback"
    assert r.tracker.kinds("breaker") == ["not_run"]
    assert r.tracker.kinds("bulkhead") == ["not_run"]
    assert breaker.counts() == (0, 0)
    r.tracker.assert_all_ended()
