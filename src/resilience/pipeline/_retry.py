"""Retry: exponential backoff with full jitter, bounded by attempts and a shared budget."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from resilience.algorithms._params import Duration, integer, seconds
from resilience.pipeline._budget import RetryBudget
from resilience.pipeline._core import AsyncInner, Attempt, Env, Inner, Kind
from resilience.pipeline._pushback import NO_RETRY, pushback

_RETRIED = (Kind.FAILURE, Kind.TIMEOUT)


class Retry:
    """Run the rest of the pipeline again after a failure, up to ``max_attempts`` in all.

    Before attempt ``k + 1`` it waits ``uniform(0, min(max_delay, base_delay * 2 ** (k - 1)))``
    seconds (full jitter, as AWS's "Exponential Backoff and Jitter" recommends), or what the
    callee asked for (``grpc-retry-pushback-ms``, ``Retry-After``: see docs/pipeline.md); a callee
    that asked for no retry, or for a wait longer than ``max_pushback`` seconds, is not retried.
    Each retry takes one unit from ``budget`` (a :class:`RetryBudget`, shared with other
    pipelines to bound retries across the process; default a budget of its own); an empty
    budget ends the retries. A pipeline with a Retry stage must be built ``idempotent=True``.

    What is retried: an attempt that failed by the pipeline's rule (a failure exception, a
    result its ``failure_if`` refuses, or a timeout) and, when given, matches ``retry_on`` (a
    predicate on the exception, or on the result for a refused result). Never retried: a local
    refusal (:class:`Rejected`: the breaker or a limiter said no), a cancellation, an exception
    that is not a failure. After the last attempt its exception is raised (or its result
    returned). Every retry is an observer event ``pipeline.retry``, every retry the budget
    refused ``pipeline.retry_budget_exhausted``.

    ``rng``: draws the jitter. Sleeping is the pipeline's ``sleep``/``asleep``.
    """

    __slots__ = (
        "_base",
        "_max_delay",
        "_max_pushback",
        "_random",
        "_retry_on",
        "budget",
        "max_attempts",
        "name",
    )

    needs_idempotent = True

    def __init__(
        self,
        max_attempts: int = 3,
        *,
        base_delay: Duration = 0.05,
        max_delay: Duration = 2.0,
        max_pushback: Duration = 10.0,
        budget: RetryBudget | None = None,
        retry_on: Callable[[Any], bool] | None = None,
        rng: random.Random | None = None,
        name: str = "retry",
    ) -> None:
        self.max_attempts = integer("max_attempts", max_attempts, minimum=1)
        self._base = seconds("base_delay", base_delay)
        self._max_delay = seconds("max_delay", max_delay)
        self._max_pushback = seconds("max_pushback", max_pushback, allow_zero=True)
        if budget is not None and not isinstance(budget, RetryBudget):
            raise TypeError(f"budget must be a RetryBudget or None, got {budget!r}")
        self.budget = budget if budget is not None else RetryBudget()
        if retry_on is not None and not callable(retry_on):
            raise TypeError(f"retry_on must be a callable or None, got {retry_on!r}")
        self._retry_on = retry_on
        self._random = (rng if rng is not None else random.Random()).random
        self.name = name

    def backoff(self, attempt: int) -> float:
        """The jittered wait in seconds after attempt number ``attempt`` (1 for the first)."""
        cap = min(self._max_delay, self._base * 2.0 ** min(attempt - 1, 64))
        return self._random() * cap

    def planned_delay(self, number: int, asked: float | None) -> float | None:
        """Seconds to wait before attempt ``number + 1`` given the callee's pushback ``asked``
        (seconds, :data:`NO_RETRY`, or None when it said nothing), or None to stop: the
        attempts are used up, or the callee asked for no retry or for a wait longer than
        ``max_pushback``. The budget is not consulted."""
        if number >= self.max_attempts:
            return None
        if asked is None:
            return self.backoff(number)
        if asked == NO_RETRY or asked > self._max_pushback:
            return None
        return asked

    def _next_delay(
        self, number: int, failed: object, error: BaseException | None, env: Env
    ) -> float | None:
        """Seconds to wait before attempt ``number + 1``, or None to stop retrying."""
        if number >= self.max_attempts:
            return None
        if self._retry_on is not None and not self._retry_on(failed):
            return None
        delay = self.planned_delay(number, None if error is None else pushback(error))
        if delay is None:
            return None
        if not self.budget.try_spend():
            env.event("pipeline.retry_budget_exhausted")
            return None
        env.event("pipeline.retry", attempt=str(number + 1))
        return delay

    def _verdict(self, number: int, outcome: tuple[bool, Any], env: Env) -> float | None:
        raised, value = outcome
        if raised:
            if env.judge.exception_kind(value) not in _RETRIED:
                return None
            return self._next_delay(number, value, value, env)
        if env.judge.result_kind(value) is not Kind.FAILURE:
            return None
        return self._next_delay(number, value, None, env)

    def run(self, inner: Inner[Any], attempt: Attempt, env: Env) -> Any:
        number = attempt.number
        judged = env.judge.result_fails is not None
        while True:
            try:  # the first attempt is the call's own: no new Attempt (300 ns) on the hot path
                result = inner(
                    attempt
                    if number == attempt.number
                    else Attempt(attempt.name, attempt.tier, number)
                )
            except Exception as exc:
                outcome: tuple[bool, Any] = (True, exc)
            else:
                if not judged:  # a result that cannot fail the call: _verdict would say None
                    return result
                outcome = (False, result)
            delay = self._verdict(number, outcome, env)
            if delay is None:
                if outcome[0]:
                    raise outcome[1]
                return outcome[1]
            env.sleep(delay)
            number += 1

    async def arun(self, inner: AsyncInner[Any], attempt: Attempt, env: Env) -> Any:
        number = attempt.number
        judged = env.judge.result_fails is not None
        while True:
            try:  # as in run()
                result = await inner(
                    attempt
                    if number == attempt.number
                    else Attempt(attempt.name, attempt.tier, number)
                )
            except Exception as exc:
                outcome: tuple[bool, Any] = (True, exc)
            else:
                if not judged:
                    return result
                outcome = (False, result)
            delay = self._verdict(number, outcome, env)
            if delay is None:
                if outcome[0]:
                    raise outcome[1]
                return outcome[1]
            await env.asleep(delay)
            number += 1

    def __repr__(self) -> str:
        return (
            f"Retry(max_attempts={self.max_attempts}, base_delay={self._base}, "
            f"max_delay={self._max_delay}, budget={self.budget!r})"
        )
