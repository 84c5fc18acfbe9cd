"""Retry: backoff with full jitter, attempts, budget, pushback, what is never retried."""

from __future__ import annotations

import asyncio
import email.utils
import random
from collections.abc import Callable
from typing import Any

import grpc
import pytest

from resilience.algorithms import SreBreaker
from resilience.errors import RejectReason
from resilience.pipeline import (
    Attempt,
    Breaker,
    CallTimeout,
    Permit,
    Rejected,
    Rejection,
    Retry,
    RetryBudget,
    SyncStage,
    Timeout,
)
from resilience.pipeline._pushback import pushback

from .helpers import Boom, Rig


def failing(times: int, answer: Any = "ok") -> Callable[[], Any]:
    """A callee that raises Boom ``times`` times, then answers."""
    calls = [0]

    def call() -> Any:
        calls[0] += 1
        if calls[0] <= times:
            raise Boom(calls[0])
        return answer

    call.calls = calls  # type: ignore[attr-defined]
    return call


def test_retries_until_success_with_jittered_backoff(r: Rig) -> None:
    retry = Retry(4, base_delay=0.1, max_delay=0.25, rng=random.Random(1))
    pipe = r.pipeline([retry], idempotent=True)
    assert pipe.call(failing(3)) == "ok"
    caps = [0.1, 0.2, 0.25]
    assert len(r.time.slept) == 3
    assert all(0 <= s <= cap for s, cap in zip(r.time.slept, caps, strict=True))
    assert r.recorder.names() == ["pipeline.retry"] * 3


def test_gives_up_after_max_attempts_with_the_last_error(r: Rig) -> None:
    callee = failing(10)
    pipe = r.pipeline([Retry(3, rng=random.Random(0))], idempotent=True)
    with pytest.raises(Boom) as caught:
        pipe.call(callee)
    assert caught.value.args == (3,)
    assert callee.calls == [3]  # type: ignore[attr-defined]


def test_each_attempt_passes_the_inner_stages(r: Rig) -> None:
    breaker = SreBreaker(clock=r.clock)
    pipe = r.pipeline([Retry(3, rng=random.Random(0)), Breaker(breaker)], idempotent=True)
    assert pipe.call(failing(2)) == "ok"
    assert breaker.counts() == (3, 1)
    assert r.tracker.kinds("breaker") == ["failure", "failure", "success"]
    r.tracker.assert_all_ended()


def test_a_local_refusal_is_not_retried(r: Rig) -> None:
    class Refuse(SyncStage):
        name = "limit"

        def admit(self, attempt: Attempt) -> Permit | Rejection:
            return Rejection(RejectReason.RATE_LIMIT.value, 0.1)

    pipe = r.pipeline([Retry(5), Refuse()], idempotent=True)
    with pytest.raises(Rejected):
        pipe.call(lambda: None)
    assert r.time.slept == []


def test_an_exception_that_is_no_failure_is_not_retried(r: Rig) -> None:
    pipe = r.pipeline([Retry(5)], idempotent=True, failure_on=(ConnectionError,))
    with pytest.raises(Boom):
        pipe.call(failing(1))
    assert r.time.slept == []


def test_retry_on_narrows_what_is_retried(r: Rig) -> None:
    pipe = r.pipeline([Retry(5, retry_on=lambda e: isinstance(e, TimeoutError))], idempotent=True)
    with pytest.raises(Boom):
        pipe.call(failing(1))


def test_a_refused_result_is_retried_and_returned_at_the_end(r: Rig) -> None:
    answers = iter([503, 503, 503])
    pipe = r.pipeline(
        [Retry(3, rng=random.Random(0))], idempotent=True, failure_if=lambda s: s >= 500
    )
    assert pipe.call(lambda: next(answers)) == 503
    assert len(r.time.slept) == 2


def test_a_timed_out_attempt_is_retried(r: Rig) -> None:
    durations = iter([1.0, 0.1])

    def slow() -> str:
        r.clock.advance(next(durations))
        return "late or not"

    pipe = r.pipeline([Retry(2, rng=random.Random(0)), Timeout(0.5)], idempotent=True)
    assert pipe.call(slow) == "late or not"
    assert r.tracker.kinds("timeout") == ["timeout", "success"]


def test_the_budget_bounds_retries_under_total_failure(r: Rig) -> None:
    budget = RetryBudget(0.1, min_retries=0, clock=r.clock)
    callee = failing(10**9)
    pipe = r.pipeline([Retry(3, budget=budget, rng=random.Random(0))], idempotent=True)
    for _ in range(200):
        with pytest.raises(Boom):
            pipe.call(callee)
    calls, retries = budget.counts()
    assert calls == 200
    assert callee.calls[0] <= 1.1 * 200  # type: ignore[attr-defined]
    assert retries == callee.calls[0] - 200  # type: ignore[attr-defined]
    assert "pipeline.retry_budget_exhausted" in r.recorder.names()


def test_budget_validation() -> None:
    with pytest.raises(ValueError, match="ratio"):
        RetryBudget(-1)
    with pytest.raises(ValueError, match="max_attempts"):
        Retry(0)


class PushbackError(grpc.RpcError):
    def __init__(self, value: str) -> None:
        self.value = value

    def trailing_metadata(self) -> Any:
        return (("grpc-retry-pushback-ms", self.value),)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (PushbackError("250"), 0.25),
        (PushbackError("-1"), -1.0),
        (PushbackError("soon"), -1.0),
        (Boom(), None),
    ],
)
def test_grpc_pushback(error: BaseException, expected: float | None) -> None:
    assert pushback(error) == expected


class HttpError(Exception):
    """Like httpx.HTTPStatusError: the response rides on the exception."""

    def __init__(self, headers: dict[str, str]) -> None:
        self.response = type("Response", (), {"headers": headers})()


def test_http_retry_after() -> None:
    assert pushback(HttpError({"Retry-After": "3"})) == 3.0
    date = email.utils.formatdate(1000.0 + 7, usegmt=True)
    assert pushback(HttpError({"Retry-After": date}), now=1000.0) == pytest.approx(7.0)
    assert pushback(HttpError({"Retry-After": "later"})) is None
    error = Boom()
    error.retry_after = 1.5  # type: ignore[attr-defined]
    assert pushback(error) == 1.5


def test_the_callee_s_pushback_sets_the_wait(r: Rig) -> None:
    errors = iter([PushbackError("400")])

    def call() -> str:
        for error in errors:
            raise error
        return "ok"

    pipe = r.pipeline([Retry(3)], idempotent=True)
    assert pipe.call(call) == "ok"
    assert r.time.slept == [0.4]


def test_a_callee_that_says_no_retry_is_not_retried(r: Rig) -> None:
    def call() -> None:
        raise PushbackError("-1")

    pipe = r.pipeline([Retry(3)], idempotent=True)
    with pytest.raises(PushbackError):
        pipe.call(call)
    assert r.time.slept == []


def test_async_retry_sleeps_on_virtual_time(r: Rig) -> None:
    attempts = [0]

    async def call() -> str:
        attempts[0] += 1
        if attempts[0] < 3:
            raise Boom
        return "ok"

    pipe = r.pipeline([Retry(3, base_delay=1.0, rng=random.Random(2))], idempotent=True)
    start = r.clock()
    assert asyncio.run(pipe.acall(call)) == "ok"
    assert r.clock() - start == pytest.approx(sum(r.time.slept))
    assert len(r.time.slept) == 2


def test_async_timeout_then_retry(r: Rig) -> None:
    durations = iter([1.0, 0.1])

    async def call() -> str:
        await r.time.asleep(next(durations))
        return "ok"

    pipe = r.pipeline([Retry(2, base_delay=0.01), Timeout(0.5)], idempotent=True)
    assert asyncio.run(pipe.acall(call)) == "ok"
    assert r.tracker.kinds("timeout") == ["timeout", "success"]


def test_async_gives_up_with_call_timeout(r: Rig) -> None:
    async def call() -> str:
        await r.time.asleep(1.0)
        return "never"

    pipe = r.pipeline([Retry(2, base_delay=0.01), Timeout(0.5)], idempotent=True)
    with pytest.raises(CallTimeout):
        asyncio.run(pipe.acall(call))
    r.tracker.assert_all_ended()
