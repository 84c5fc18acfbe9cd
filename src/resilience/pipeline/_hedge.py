"""Hedge: a second attempt when the first is slower than usual; the first good answer wins."""

from __future__ import annotations

import asyncio
import math
import threading
from collections import deque
from typing import Any

from resilience.algorithms._params import Duration, integer, number, seconds
from resilience.pipeline._budget import RetryBudget
from resilience.pipeline._core import AsyncInner, Attempt, Env, Inner, Kind


class Hedge:
    """Start another attempt when the current ones have run for longer than the
    ``percentile`` of recently observed latencies (or ``delay`` seconds when given), up to
    ``max_hedges`` extra attempts; the first attempt to succeed wins and the others are
    cancelled (their permits end ``CANCELLED``). When every attempt failed, the last failure
    is raised (or its result returned). Each hedge takes one unit from ``budget`` (a
    :class:`RetryBudget`, shared with :class:`Retry` to bound the extra load together); with an
    empty budget no hedge is sent. Each hedge is an observer event ``pipeline.hedge``.

    The latency estimate is the ``percentile`` (0 < p < 100, default 95) of the last
    ``samples`` successful attempts' durations; before ``min_samples`` of them, no hedge is
    sent unless ``delay`` is fixed. A pipeline with a Hedge stage must be ``idempotent=True``.

    asyncio only (``acall`` or an async function under ``@pipe``): cancelling the loser is what
    makes hedging cheap, and a sync call cannot be cancelled; a sync call through a pipeline
    with a Hedge raises TypeError. Waiting is the pipeline's ``asleep``.
    """

    __slots__ = (
        "_delay",
        "_latencies",
        "_lock",
        "_min_samples",
        "_percentile",
        "budget",
        "max_hedges",
        "name",
    )

    needs_idempotent = True

    def __init__(
        self,
        *,
        delay: Duration | None = None,
        percentile: float = 95.0,
        samples: int = 200,
        min_samples: int = 20,
        max_hedges: int = 1,
        budget: RetryBudget | None = None,
        name: str = "hedge",
    ) -> None:
        self._delay = None if delay is None else seconds("delay", delay, allow_zero=True)
        self._percentile = number(
            "percentile", percentile, low=0.0, high=100.0, low_open=True, high_open=True
        )
        self._latencies: deque[float] = deque(maxlen=integer("samples", samples, minimum=1))
        self._min_samples = integer("min_samples", min_samples, minimum=1)
        self.max_hedges = integer("max_hedges", max_hedges, minimum=1)
        if budget is not None and not isinstance(budget, RetryBudget):
            raise TypeError(f"budget must be a RetryBudget or None, got {budget!r}")
        self.budget = budget if budget is not None else RetryBudget()
        self._lock = threading.Lock()
        self.name = name

    def hedge_delay(self) -> float | None:
        """Seconds after which a hedge is sent now, or None (too few samples, no fixed delay)."""
        if self._delay is not None:
            return self._delay
        with self._lock:
            if len(self._latencies) < self._min_samples:
                return None
            ordered = sorted(self._latencies)
        rank = math.ceil(self._percentile / 100.0 * len(ordered)) - 1
        return ordered[max(0, rank)]

    def observe(self, latency: float) -> None:
        """Fold a successful attempt's latency (seconds) into the estimate."""
        with self._lock:
            self._latencies.append(latency)

    def run(self, inner: Inner[Any], attempt: Attempt, env: Env) -> Any:
        raise TypeError(
            "Hedge is asyncio-only (a sync call cannot be cancelled when it loses): use "
            "await pipe.acall(...) or decorate an async function"
        )

    async def _timed(self, inner: AsyncInner[Any], attempt: Attempt, env: Env) -> Any:
        started = env.clock()
        result = await inner(attempt)
        if env.judge.result_kind(result) is Kind.SUCCESS:
            self.observe(env.clock() - started)
        return result

    async def arun(self, inner: AsyncInner[Any], attempt: Attempt, env: Env) -> Any:
        delay = self.hedge_delay()
        first = asyncio.ensure_future(self._timed(inner, attempt, env))
        if delay is None:
            return await first
        pending: set[asyncio.Future[Any]] = {first}
        sent = 0
        timer: asyncio.Future[Any] | None = asyncio.ensure_future(env.asleep(delay))
        last: asyncio.Future[Any] = first
        try:
            while pending:
                waiting = pending if timer is None else pending | {timer}
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if timer is not None and timer in done:
                    timer = None
                    if self.budget.try_spend():
                        sent += 1
                        env.event("pipeline.hedge", attempt=str(attempt.number + sent))
                        hedge = Attempt(attempt.name, attempt.tier, attempt.number + sent)
                        pending.add(asyncio.ensure_future(self._timed(inner, hedge, env)))
                        if sent < self.max_hedges:
                            timer = asyncio.ensure_future(env.asleep(delay))
                    else:
                        env.event("pipeline.retry_budget_exhausted")
                for task in done:
                    if task is timer or task not in pending:
                        continue
                    pending.discard(task)
                    last = task
                    if (
                        task.exception() is None
                        and env.judge.result_kind(task.result()) is Kind.SUCCESS
                    ):
                        return task.result()
            return last.result()
        finally:
            leftovers = [task for task in (*pending, timer) if task is not None and not task.done()]
            for task in leftovers:
                task.cancel()
            if leftovers:
                await asyncio.wait(leftovers)
            for task in pending:
                if task.done() and not task.cancelled():
                    task.exception()  # retrieved: no "exception never retrieved" warning

    def __repr__(self) -> str:
        return (
            f"Hedge(delay={self._delay}, percentile={self._percentile}, "
            f"max_hedges={self.max_hedges}, budget={self.budget!r})"
        )
