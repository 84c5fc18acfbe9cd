"""Admission for calls that end later than they start (resilience.pipeline._admission): the
same outcomes and algorithm states as a Pipeline's general engine, compiled or not."""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

import pytest

from resilience.algorithms import (
    EmaTimeout,
    OverloadGuard,
    SlidingWindowLimiter,
    SreBreaker,
    TieredLimiter,
)
from resilience.backends import AioMemoryStore, AioSharedSlidingWindowLimiter
from resilience.pipeline import (
    Breaker,
    CallTimeout,
    Kind,
    Outcome,
    Overload,
    Pipeline,
    RateLimit,
    Rejected,
    Rejection,
    Timeout,
)
from resilience.pipeline._admission import Admission, Admitted
from resilience.pipeline.testing import PermitTracker
from resilience.testing import ManualClock

from .helpers import Boom


class World:
    """Breaker, overload guard, tiered rate limit, EMA timeout and a fixed timeout on a manual
    clock; ``tracked`` wraps the stages (user stages: the general path)."""

    def __init__(self, tracked: bool) -> None:
        self.clock = clock = ManualClock(100.0)
        self.breaker = SreBreaker(
            min_requests=4, window=2.0, buckets=4, clock=clock, rng=random.Random(5)
        )
        self.limiter = TieredLimiter(12, window=1.0, buckets=4, clock=clock)
        self.ema = EmaTimeout(t_avg=0.01, t_hwm=0.05, t_max=0.1, n=4)
        self.guard = OverloadGuard(cpu_sampler=lambda: 0.0, clock=clock)
        stages: list[Any] = [
            Breaker(self.breaker),
            Overload(self.guard),
            RateLimit(self.limiter),
            Timeout(self.ema),
            Timeout(0.08),
        ]
        self.tracker = PermitTracker()
        if tracked:
            stages = self.tracker.wrap_all(stages)
        self.stages = stages

    def state(self) -> tuple[Any, ...]:
        return (
            self.breaker.counts(),
            self.breaker.drop_probability,
            [s.admitted for s in self.limiter.snapshot()],
            self.ema.ema,
            self.ema.timeout(),
            self.guard.inflight,
            self.guard.max_inflight,
        )


def latency(step: int) -> float:
    return 0.15 if step % 17 == 5 else (step * 37 % 13) / 200.0


def fails(step: int) -> bool:
    return step % 11 == 1 or 150 <= step < 260


def by_pipeline(w: World, pipe: Pipeline, step: int) -> str:
    """``step``'s call through the pipeline's general engine (a sync call is timed out after
    it ran, as an Admission's caller does with its own call)."""

    def callee() -> str:
        w.clock.advance(latency(step))
        if fails(step):
            raise Boom(f"step {step}")
        return "ok"

    try:
        return pipe.call(callee)
    except Rejected as exc:
        return f"rejected {exc.rejection}"
    except Boom:
        return "failure"
    except CallTimeout:
        return "timeout"


def by_admission(w: World, admission: Admission, step: int, tier: int) -> str:
    """The same call admitted by ``admission``, run here and ended by its outcome."""
    got = admission.admit(tier, w.clock())
    if isinstance(got, Rejection):
        return f"rejected {got}"
    assert isinstance(got, Admitted)
    timeout = got.timeout()
    started = w.clock()
    w.clock.advance(latency(step))
    duration = w.clock() - started
    late = timeout is not None and duration > timeout
    if fails(step):  # the pipeline's caller gets the exception, the stages a late one's timeout
        got.end(Outcome(Kind.TIMEOUT if late else Kind.FAILURE, duration, Boom()))
        return "failure"
    if late:
        got.end(Outcome(Kind.TIMEOUT, duration))
        return "timeout"
    got.end_ok(duration)
    return "ok"


@pytest.mark.parametrize("tracked", [False, True], ids=["compiled", "general"])
def test_admission_agrees_with_the_pipeline_call_for_call(tracked: bool) -> None:
    reference, admitted = World(tracked=True), World(tracked=tracked)
    pipe = Pipeline(reference.stages, name="dep", observers=[], clock=reference.clock, tier=3)
    admission = Admission(admitted.stages, admitted.clock, name="dep")
    assert admission.compiled is not tracked
    outcomes = set()
    for step in range(400):
        got = by_admission(admitted, admission, step, tier=3)
        assert got == by_pipeline(reference, pipe, step), step
        assert admitted.state() == reference.state(), step
        outcomes.add(got.split("(")[0] if "rejected" not in got else got.split(", stage=")[1])
        for w in (reference, admitted):
            w.clock.advance(0.003 * (step % 4))
    assert {"ok", "failure", "timeout", "'breaker')", "'rate_limit')"} <= outcomes
    if tracked:
        admitted.tracker.assert_all_ended()
        assert admitted.tracker.kinds("overload").count("not_run") > 0


def test_the_fast_path_allocates_no_admitted_object_per_call() -> None:
    clock = ManualClock()
    admission = Admission([Breaker(SreBreaker(clock=clock)), Timeout(0.5)], clock)
    first, second = admission.admit(2, clock()), admission.admit(2, clock())
    assert first is second
    assert isinstance(first, Admitted)
    assert admission.admit(3, clock()) is not first  # one per tier
    assert first.timeout() == 0.5


def test_a_refusal_ends_the_earlier_permits_not_run() -> None:
    clock = ManualClock()
    breaker = SreBreaker(clock=clock)
    guard = OverloadGuard(cpu_sampler=lambda: 0.0, clock=clock)
    tracker = PermitTracker()
    for stages in (
        [Breaker(breaker), Overload(guard), RateLimit(SlidingWindowLimiter(0, clock=clock))],
        tracker.wrap_all(
            [Breaker(breaker), Overload(guard), RateLimit(SlidingWindowLimiter(0, clock=clock))]
        ),
    ):
        refused = Admission(stages, clock).admit(1, clock())
        assert isinstance(refused, Rejection)
        assert (refused.stage, refused.reason) == ("rate_limit", "rate_limit")
        assert guard.inflight == 0  # abandoned, not released: no latency counted
        assert breaker.counts() == (0, 0)  # NOT_RUN records nothing
    assert tracker.kinds("breaker") == tracker.kinds("overload") == ["not_run"]


def test_a_stage_that_raises_is_skipped_and_the_call_holds_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(SlidingWindowLimiter):
        def try_acquire(self, n: int = 1) -> Any:
            raise RuntimeError("store gone")

    clock = ManualClock()
    breaker = SreBreaker(clock=clock)
    ema = EmaTimeout(t_avg=0.01, t_hwm=0.05, t_max=0.1, n=4)
    admission = Admission(
        [Breaker(breaker), RateLimit(Broken(5, clock=clock)), Timeout(ema)], clock
    )
    assert admission.compiled
    with caplog.at_level(logging.WARNING, "resilience.pipeline"):
        first = admission.admit(1, clock())
        second = admission.admit(1, clock())
    assert "raised on admission; skipped" in caplog.text
    assert isinstance(first, Admitted)
    assert first is not second
    assert first.timeout() == ema.timeout()
    first.end_ok(0.02)
    assert isinstance(second, Admitted)
    second.end(Outcome(Kind.FAILURE, 0.03))
    assert breaker.counts() == (2, 1)
    assert ema.ema != 0.0


def test_end_makes_the_permits_of_an_outcome_other_than_success() -> None:
    clock = ManualClock()
    breaker = SreBreaker(clock=clock)
    ema = EmaTimeout(t_avg=0.01, t_hwm=0.05, t_max=0.1, n=4)
    guard = OverloadGuard(cpu_sampler=lambda: 0.0, clock=clock)
    admission = Admission([Breaker(breaker), Overload(guard), Timeout(ema)], clock)
    for kind in (Kind.CANCELLED, Kind.FAILURE, Kind.TIMEOUT, Kind.SUCCESS):
        got = admission.admit(1, clock())
        assert isinstance(got, Admitted)
        assert guard.inflight == 1
        got.end(Outcome(kind, 0.2))
        assert guard.inflight == 0
    assert breaker.counts() == (3, 1)  # cancelled: nothing; failure, timeout; success
    fed = EmaTimeout(t_avg=0.01, t_hwm=0.05, t_max=0.1, n=4)
    for ok in (False, False, True):  # a cancelled call is not fed
        fed.observe(0.2, ok)
    assert ema.ema == fed.ema


def test_timeout_is_none_without_a_timeout_stage_and_the_smallest_otherwise() -> None:
    clock = ManualClock()
    unbound = Admission([Breaker(SreBreaker(clock=clock))], clock).admit(1, 0.0)
    assert isinstance(unbound, Admitted)
    assert unbound.timeout() is None
    ema = EmaTimeout(t_avg=0.01, t_hwm=0.05, t_max=0.1, n=4)
    library: list[Any] = [Timeout(0.5), Timeout(ema)]
    for stages in (library, PermitTracker().wrap_all(library)):
        got = Admission(stages, clock).admit(1, clock())
        assert isinstance(got, Admitted)
        assert got.timeout() == ema.timeout() < 0.5


def test_an_awaited_limiter_is_admitted_by_aadmit() -> None:
    async def main() -> None:
        clock = ManualClock()
        guard = OverloadGuard(cpu_sampler=lambda: 0.0, clock=clock)
        store = AioMemoryStore(clock=clock)
        limiter = AioSharedSlidingWindowLimiter(
            store, name="dep", limit=1, mode="exact", clock=clock
        )
        admission = Admission([Overload(guard), RateLimit(limiter)], clock)
        assert not admission.compiled
        got = await admission.aadmit(1)
        assert isinstance(got, Admitted)
        refused = await admission.aadmit(1)
        assert isinstance(refused, Rejection)
        assert refused.stage == "rate_limit"
        assert guard.inflight == 1  # the refused call's guard permit ended NOT_RUN
        got.end_ok(0.01)
        assert guard.inflight == 0
        with pytest.raises(TypeError, match="event loop"):
            admission.admit(1, clock())
        assert guard.inflight == 0  # the misuse ended the guard's permit
        await limiter.aclose()

    asyncio.run(main())


@pytest.mark.parametrize("broken", ["guard", "limiter", "misuse"])
def test_the_compiled_guard_and_tiered_limit_skip_a_stage_that_raises(
    broken: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A server's shape (an overload guard, then a tiered limit, both on the admission's clock:
    one closure without a loop): a stage that raises is skipped and the call holds the other;
    a TypeError ends the guard's permit not run and is raised."""

    def boom(*args: Any) -> Any:
        raise (TypeError if broken == "misuse" else RuntimeError)("a bug")

    owner = OverloadGuard if broken == "guard" else TieredLimiter
    monkeypatch.setattr(owner, "_acquire_at", boom)
    clock = ManualClock()
    guard = OverloadGuard(cpu_sampler=lambda: 0.0, clock=clock)
    limiter = TieredLimiter(10, clock=clock)
    admission = Admission([Overload(guard), RateLimit(limiter)], clock)
    assert admission.compiled
    if broken == "misuse":
        with pytest.raises(TypeError, match="a bug"):
            admission.admit(2, clock())
        assert guard.inflight == 0  # abandoned
        return
    with caplog.at_level(logging.WARNING, "resilience.pipeline"):
        got = admission.admit(2, clock())
    assert "raised on admission; skipped" in caplog.text
    assert isinstance(got, Admitted)
    assert guard.inflight == (0 if broken == "guard" else 1)
    got.end_ok(0.01)
    assert guard.inflight == 0
    if broken == "guard":
        assert [s.admitted for s in limiter.snapshot()][1] == 1
