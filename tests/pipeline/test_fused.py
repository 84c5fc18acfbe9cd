"""A pipeline of the library's own admission stages runs compiled (resilience.pipeline._fused):
the same outcomes, algorithm states and time_left() as the general engine, call for call, with
fewer Python calls."""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

import pytest

from resilience.algorithms import EmaTimeout, OverloadGuard, SlidingWindowLimiter, SreBreaker
from resilience.pipeline import (
    Attempt,
    Breaker,
    CallTimeout,
    Fallback,
    Overload,
    Permit,
    Pipeline,
    RateLimit,
    Rejected,
    Rejection,
    Retry,
    RetryBudget,
    Timeout,
    time_left,
)
from resilience.pipeline.testing import PermitTracker, VirtualTime
from resilience.testing import ManualClock

from .helpers import Boom


@dataclass
class World:
    """One pipeline and the algorithms behind it, on a manual clock."""

    clock: ManualClock
    breaker: SreBreaker
    limiter: SlidingWindowLimiter
    ema: EmaTimeout
    guard: OverloadGuard
    pipe: Pipeline

    def state(self) -> tuple[Any, ...]:
        return (
            self.breaker.counts(),
            self.breaker.drop_probability,
            self.limiter.count,
            self.ema.ema,
            self.ema.timeout(),
            self.guard.inflight,
            self.guard.max_inflight,
        )


def world(tracked: bool, *, breaker_clock: ManualClock | None = None) -> World:
    """Breaker, overload guard, rate limit, EMA timeout and a fixed timeout; ``tracked`` wraps
    the stages (a user stage for the pipeline), which takes the general engine."""
    clock = ManualClock(100.0)
    breaker = SreBreaker(
        min_requests=4, window=2.0, buckets=4, clock=breaker_clock or clock, rng=random.Random(5)
    )
    limiter = SlidingWindowLimiter(20, window=1.0, buckets=4, clock=clock)
    ema = EmaTimeout(t_avg=0.01, t_hwm=0.05, t_max=0.1, n=4)
    guard = OverloadGuard(cpu_sampler=lambda: 0.0, clock=clock)
    stages: list[Any] = [
        Breaker(breaker),
        Overload(guard),
        RateLimit(limiter),
        Timeout(ema),
        Timeout(0.08),
    ]
    if tracked:
        stages = PermitTracker().wrap_all(stages)
    pipe = Pipeline(stages, name="dep", observers=[], clock=clock, failure_if=lambda r: r == "bad")
    return World(clock, breaker, limiter, ema, guard, pipe)


def script(w: World, step: int) -> Callable[[], str]:
    """Call ``step``'s callee: it takes 0-60 ms of the world's clock (150 ms now and then),
    fails now and then and throughout an outage (steps 150-199), returns a failing result now
    and then, else succeeds; time_left() is part of what it returns."""
    latency = 0.15 if step % 17 == 5 else (step * 37 % 13) / 200.0

    def callee() -> str:
        left = time_left()
        w.clock.advance(latency)
        if step % 11 == 1 or 150 <= step < 200:
            raise Boom(f"step {step}")
        return "bad" if step % 13 == 3 else f"ok {left!r}"

    return callee


def outcome(w: World, step: int) -> str:
    try:
        return w.pipe.call(script(w, step))
    except (Boom, Rejected, CallTimeout) as exc:
        return f"{type(exc).__name__}: {exc}"


def test_compiled_and_general_pipelines_agree_call_for_call() -> None:
    fused, general = world(tracked=False), world(tracked=True)
    outcomes = set()
    for step in range(400):
        got = outcome(fused, step)
        assert got == outcome(general, step), step
        assert fused.state() == general.state(), step
        outcomes.add(got.split(" (")[0].split(":")[0] if "Rejected" not in got else got[:60])
        for w in (fused, general):
            w.clock.advance(0.003 * (step % 4))
    # every path was taken: successes, failures, timeouts, and refusals by each refusing stage
    assert {"bad", "Boom", "CallTimeout"} <= outcomes
    assert any(got.startswith("ok ") for got in outcomes)
    refused = {got.split("'dep': ")[1].split(" ")[0] for got in outcomes if "Rejected" in got}
    assert refused == {"breaker", "rate_limit"}
    assert fused.breaker.counts()[0] > 0


def test_an_algorithm_on_another_clock_reads_its_own() -> None:
    own, other = ManualClock(7.0), ManualClock(7.0)
    fused, general = world(False, breaker_clock=own), world(True, breaker_clock=other)
    for step in range(60):
        assert outcome(fused, step) == outcome(general, step), step
        assert fused.state() == general.state(), step
        own.advance(0.4)
        other.advance(0.4)


def test_a_stage_that_raises_on_admission_is_skipped_and_not_ended(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(random.Random):
        def random(self) -> float:
            raise RuntimeError("no entropy")

    def run(tracked: bool) -> tuple[Any, ...]:
        clock = ManualClock()
        breaker = SreBreaker(min_requests=0, clock=clock, rng=Broken())
        breaker.record(False)  # p > 0: the next admission draws, and the draw raises
        limiter = SlidingWindowLimiter(10, clock=clock)
        ema = EmaTimeout()
        stages: list[Any] = [Breaker(breaker), RateLimit(limiter), Timeout(ema)]
        if tracked:
            stages = PermitTracker().wrap_all(stages)
        pipe = Pipeline(stages, observers=[], clock=clock)
        results = [pipe.call(lambda: "answer"), pipe.call(lambda: "again")]
        return (results, breaker.counts(), limiter.count, ema.ema)

    with caplog.at_level(logging.WARNING, "resilience.pipeline"):
        assert run(tracked=False) == run(tracked=True) == (["answer", "again"], (1, 0), 2, 0.0)
    assert "raised on admission; skipped" in caplog.text


def test_a_refusal_ends_the_overload_permit_it_held() -> None:
    clock = ManualClock()
    guard = OverloadGuard(cpu_sampler=lambda: 0.0, clock=clock)
    pipe = Pipeline(
        [Overload(guard), RateLimit(SlidingWindowLimiter(0, clock=clock))],
        observers=[],
        clock=clock,
    )
    with pytest.raises(Rejected) as refused:
        pipe.call(lambda: None)
    assert refused.value.rejection.stage == "rate_limit"
    assert guard.inflight == 0  # abandoned, as NOT_RUN


def test_a_subclassed_stage_keeps_its_own_admit() -> None:
    seen: list[int] = []

    class Counting(Breaker):
        def admit(self, attempt: Attempt) -> Permit | Rejection:
            seen.append(attempt.tier)
            return super().admit(attempt)

    pipe = Pipeline([Counting(SreBreaker()), Timeout(1.0)], observers=[])
    assert pipe.call(lambda: 3) == 3
    assert seen == [2]


def test_an_asyncio_call_through_library_stages_is_unchanged() -> None:
    clock = ManualClock()
    breaker = SreBreaker(clock=clock)
    pipe = Pipeline([Breaker(breaker), Timeout(EmaTimeout())], observers=[], clock=clock)

    async def answer() -> int:
        return 42

    assert asyncio.run(pipe.acall(answer)) == 42
    assert breaker.counts() == (1, 1)


def python_calls(fn: Callable[[], object]) -> list[str]:
    """The Python-level functions that run during ``fn()``, in order, by name (C functions are
    not seen). The collector is off meanwhile: a finalizer it runs is not the call's."""
    calls: list[str] = []

    def record(frame: FrameType, event: str, arg: object) -> None:
        if event == "call":
            calls.append(frame.f_code.co_name)

    collecting = gc.isenabled()
    gc.disable()
    sys.setprofile(record)
    try:
        fn()
    finally:
        sys.setprofile(None)
        if collecting:
            gc.enable()
    return calls[1:]  # not fn itself


def test_a_call_through_breaker_limit_and_ema_timeout_makes_few_python_calls() -> None:
    """The compiled path: the pipeline's call and run, the algorithms' own methods (breaker
    admission and record, limiter, EMA timeout and observe) and the callee; no stage, permit
    or outcome. The general engine made 16 more or less (benchmarks/README.md).

    The clock stands still (a C callable, so reading it is not a Python call): on the running
    clock a window slot could end inside the counted call, and moving to the next slot is two
    more calls once per slot, which a stalled host made this test count."""
    stopped = itertools.repeat(1000.0).__next__
    pipe = Pipeline(
        [
            Breaker(SreBreaker(clock=stopped)),
            RateLimit(SlidingWindowLimiter(10**9, window=3600.0, clock=stopped)),
            Timeout(EmaTimeout()),
        ],
        observers=[],
        clock=stopped,
    )

    def noop() -> None:
        return None

    pipe.call(noop)  # warm: nothing first-call-only is counted
    calls = python_calls(lambda: pipe.call(noop))
    assert len(calls) <= 8, f"{calls}: the compiled path is not taken, or grew"


def python_functions(fn: Callable[[], object]) -> set[str]:
    """The names of the Python functions that run during ``fn()``."""
    names: set[str] = set()

    def record(frame: FrameType, event: str, arg: object) -> None:
        if event == "call":
            names.add(frame.f_code.co_name)

    sys.setprofile(record)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return names


def retrying_world(tracked: bool) -> tuple[World, RetryBudget]:
    """:func:`world` behind a fallback and three attempts with a budget."""
    base = world(tracked)
    budget = RetryBudget(0.5, min_retries=2, window=1.0, clock=base.clock)
    pipe = Pipeline(
        [
            Fallback(function=lambda exc: f"fallback after {type(exc).__name__}"),
            Retry(3, base_delay=0.01, budget=budget, rng=random.Random(9)),
            *base.pipe.stages,
        ],
        name="dep",
        observers=[],
        clock=base.clock,
        sleep=VirtualTime(base.clock).sleep,
        failure_if=lambda r: r == "bad",
        idempotent=True,
    )
    return World(base.clock, base.breaker, base.limiter, base.ema, base.guard, pipe), budget


def test_behind_retry_and_fallback_the_compiled_group_agrees_with_the_general_engine() -> None:
    (fused, fused_budget), (general, general_budget) = retrying_world(False), retrying_world(True)
    for step in range(300):
        assert outcome(fused, step) == outcome(general, step), step
        assert fused.state() == general.state(), step
        assert fused_budget.counts() == general_budget.counts(), step
        for w in (fused, general):
            w.clock.advance(0.003 * (step % 4))
    assert fused_budget.counts()[1] > 0  # retries happened

    names = python_functions(lambda: fused.pipe.call(lambda: "answer"))
    assert "_admit_at" in names  # the breaker's admission, called by the compiled group
    assert "admit" not in names  # and no stage's
