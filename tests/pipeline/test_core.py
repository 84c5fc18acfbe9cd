"""The pipeline's contract: permits ended once, refusals, failures, observers, usage forms."""

from __future__ import annotations

import asyncio
import gc
import logging
import random
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import pytest

from resilience.algorithms import EmaTimeout, SlidingWindowLimiter, SreBreaker
from resilience.context import tier
from resilience.errors import RejectReason
from resilience.pipeline import (
    Attempt,
    Breaker,
    Fallback,
    Hedge,
    Kind,
    Outcome,
    Permit,
    Pipeline,
    RateLimit,
    Rejected,
    Rejection,
    Retry,
    SyncStage,
    Timeout,
    time_left,
)
from resilience.pipeline.testing import PermitTracker

from .helpers import Boom, Rig


class Zero(random.Random):
    def random(self) -> float:
        return 0.0


class Refuse(SyncStage):
    """A stage that refuses every call."""

    name = "refuse"

    def admit(self, attempt: Attempt) -> Permit | Rejection:
        return Rejection(RejectReason.BREAKER.value, 1.5)


def open_breaker(r: Rig) -> SreBreaker:
    """A breaker that drops every call (p > 0 and a draw of 0, probes far apart)."""
    breaker = SreBreaker(min_requests=1, probe_interval=1e9, clock=r.clock, rng=Zero())
    breaker.try_acquire()
    breaker.record(False)
    return breaker


def test_call_returns_and_reports_one_call(r: Rig) -> None:
    pipe = r.pipeline([Breaker(SreBreaker(clock=r.clock))])
    assert pipe.call(lambda a, b: a + b, 2, b=3) == 5
    assert [c.method for c in r.recorder.started] == ["dep"]
    info, outcome = r.recorder.ended[0]
    assert (info.side, info.method, info.tier) == ("client", "dep", 2)
    assert outcome.code is grpc.StatusCode.OK
    r.tracker.assert_all_ended()
    assert r.tracker.kinds("breaker") == ["success"]


def test_breaker_refusal_ends_the_limiter_permit_not_run(r: Rig) -> None:
    limiter = SlidingWindowLimiter(10, clock=r.clock)
    pipe = r.pipeline([RateLimit(limiter), Breaker(open_breaker(r))])
    called: list[int] = []
    with pytest.raises(Rejected) as caught:
        pipe.call(called.append, 1)
    assert called == []
    assert caught.value.reason == "breaker"
    assert caught.value.rejection.stage == "breaker"
    assert r.tracker.kinds("rate_limit") == ["not_run"]
    r.tracker.assert_all_ended()
    _, outcome = r.recorder.ended[0]
    assert outcome.code is grpc.StatusCode.UNAVAILABLE
    assert outcome.reject_reason == "breaker"


def test_limiter_refusal_costs_the_breaker_nothing(r: Rig) -> None:
    breaker = SreBreaker(clock=r.clock)
    pipe = r.pipeline([Breaker(breaker), RateLimit(SlidingWindowLimiter(0, clock=r.clock))])
    with pytest.raises(Rejected) as caught:
        pipe.call(lambda: 1)
    assert caught.value.reason == "rate_limit"
    assert breaker.counts() == (0, 0)
    assert r.tracker.kinds("breaker") == ["not_run"]
    assert r.recorder.ended[0][1].code is grpc.StatusCode.RESOURCE_EXHAUSTED


def test_failures_and_successes_reach_the_breaker(r: Rig) -> None:
    breaker = SreBreaker(clock=r.clock)
    pipe = r.pipeline([Breaker(breaker)])
    pipe.call(lambda: None)
    with pytest.raises(Boom):
        pipe.call(_raise, Boom())
    assert breaker.counts() == (2, 1)
    assert r.recorder.ended[1][1].code is grpc.StatusCode.UNKNOWN


def test_failure_on_decides_what_counts(r: Rig) -> None:
    breaker = SreBreaker(clock=r.clock)
    pipe = r.pipeline([Breaker(breaker)], failure_on=(ConnectionError,))
    with pytest.raises(KeyError):
        pipe.call(_raise, KeyError("missing"))  # the callee answered: a success
    with pytest.raises(ConnectionError):
        pipe.call(_raise, ConnectionError())
    assert breaker.counts() == (2, 1)
    assert r.recorder.ended[0][1].code is grpc.StatusCode.OK


def test_failure_if_judges_results(r: Rig) -> None:
    breaker = SreBreaker(clock=r.clock)
    pipe = r.pipeline([Breaker(breaker)], failure_if=lambda status: status >= 500)
    assert pipe.call(lambda: 503) == 503
    assert pipe.call(lambda: 200) == 200
    assert breaker.counts() == (2, 1)
    assert r.tracker.kinds("breaker") == ["failure", "success"]


def test_a_grpc_error_reports_its_own_code(r: Rig) -> None:
    class Unavailable(grpc.RpcError):
        def code(self) -> grpc.StatusCode:
            return grpc.StatusCode.UNAVAILABLE

    pipe = r.pipeline([])
    with pytest.raises(Unavailable):
        pipe.call(_raise, Unavailable())
    assert r.recorder.ended[0][1].code is grpc.StatusCode.UNAVAILABLE


def test_a_second_end_is_ignored_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    ended: list[Kind] = []

    class Counting(Permit):
        def _end(self, outcome: Outcome) -> None:
            ended.append(outcome.kind)

    permit = Counting()
    caplog.set_level(logging.DEBUG, "resilience.pipeline")
    permit.end(Outcome(Kind.SUCCESS))
    permit.end(Outcome(Kind.FAILURE))
    assert ended == [Kind.SUCCESS]
    assert "ended twice" in caplog.text


def test_the_tracker_finds_a_permit_never_ended(r: Rig) -> None:
    tracker = PermitTracker()
    stage = tracker.wrap(Breaker(SreBreaker(clock=r.clock)))
    stage.admit(Attempt("dep", 2))
    with pytest.raises(AssertionError, match="never ended: \\['breaker'\\]"):
        tracker.assert_all_ended()


def test_a_stage_that_raises_is_skipped(r: Rig) -> None:
    class Broken(SyncStage):
        name = "broken"

        def admit(self, attempt: Attempt) -> Permit | Rejection:
            raise RuntimeError("bug")

    assert r.pipeline([Broken()]).call(lambda: 7) == 7


def test_the_tier_comes_from_the_context(r: Rig) -> None:
    seen: list[int] = []

    class Look(SyncStage):
        name = "look"

        def admit(self, attempt: Attempt) -> Permit | Rejection:
            seen.append(attempt.tier)
            return Permit()

    pipe = r.pipeline([Look()], tier=3)
    pipe.call(lambda: None)
    with tier(1):
        pipe.call(lambda: None)
    assert seen == [3, 1]


def test_retry_needs_an_idempotent_pipeline(r: Rig) -> None:
    with pytest.raises(ValueError, match="idempotent=True"):
        r.pipeline([Retry()])


def test_bad_arguments_say_what_to_change() -> None:
    with pytest.raises(ValueError, match="tier must be"):
        Pipeline([], tier=7)
    with pytest.raises(TypeError, match="a Stage"):
        Pipeline([object()])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="tuple of exception types"):
        Pipeline([], failure_on=ValueError)  # type: ignore[arg-type]


def test_decorator_on_sync_and_async_functions(r: Rig) -> None:
    breaker = SreBreaker(clock=r.clock)
    pipe = r.pipeline([Breaker(breaker)])

    @pipe
    def double(x: int) -> int:
        return 2 * x

    @pipe
    async def triple(x: int) -> int:
        return 3 * x

    assert double(2) == 4
    assert asyncio.run(triple(2)) == 6
    assert double.__name__ == "double"
    assert breaker.counts() == (2, 2)
    r.tracker.assert_all_ended()


def test_decorator_on_methods_sees_self(r: Rig) -> None:
    breaker = SreBreaker(clock=r.clock)
    pipe = r.pipeline([Breaker(breaker)])

    class Shop:
        def __init__(self) -> None:
            self.stock = 5

        @pipe
        def left(self, sold: int) -> int:
            return self.stock - sold

        @pipe
        async def aleft(self, sold: int) -> int:
            return self.stock - sold

    assert Shop().left(1) == 4
    assert asyncio.run(Shop().aleft(2)) == 3
    assert breaker.counts() == (2, 2)
    r.tracker.assert_all_ended()


def test_decorator_on_static_class_methods_and_callable_objects_awaits_the_async_ones(
    r: Rig,
) -> None:
    # A sync wrapper around an async callable would record a success when the coroutine is
    # created and never see its failure.
    breaker = SreBreaker(clock=r.clock)
    pipe = r.pipeline([Breaker(breaker)])

    class Down:
        async def __call__(self) -> None:
            raise ConnectionError("down")

    class Shop:
        @staticmethod
        @pipe
        async def inner_static() -> None:
            raise ConnectionError("down")

        @pipe
        @staticmethod
        async def outer_static() -> None:
            raise ConnectionError("down")

        @classmethod
        @pipe
        async def inner_class(cls) -> None:
            raise ConnectionError("down")

        @pipe
        @classmethod
        def outer_class(cls) -> str:
            return cls.__name__

    down = pipe(Down())
    for failing in (Shop.inner_static, Shop().outer_static, Shop.inner_class, down):
        with pytest.raises(ConnectionError):
            asyncio.run(failing())
    assert Shop().outer_class() == "Shop"
    assert breaker.counts() == (5, 1)  # four failures seen, one success
    r.tracker.assert_all_ended()


@pytest.mark.parametrize("outer", ["retry", "fallback", "hedge"])
def test_acall_of_a_sync_function_runs_it_once_and_says_to_use_call(r: Rig, outer: str) -> None:
    # Before, the TypeError of awaiting its result was a failure: retried (the sync function
    # ran again each time), counted by the breaker, or replaced by the fallback's answer.
    breaker = SreBreaker(clock=r.clock)
    wrapping: dict[str, Any] = {
        "retry": Retry(3),
        "fallback": Fallback("x"),
        "hedge": Hedge(delay=0.1),
    }
    pipe = r.pipeline([wrapping[outer], Breaker(breaker), Timeout(1.0)], idempotent=True)
    runs: list[str] = []

    def charge() -> str:
        runs.append("charged")
        return "receipt"

    with pytest.raises(TypeError, match=r"pipe\.acall\(.*charge\).*returned str.*pipe\.call"):
        asyncio.run(pipe.acall(charge))  # type: ignore[arg-type]
    assert runs == ["charged"]
    assert breaker.counts() == (1, 1)  # it ran and answered
    r.tracker.assert_all_ended()


@pytest.mark.parametrize("outer", ["none", "retry", "fallback"])
def test_call_of_an_async_function_says_to_use_acall(
    r: Rig, outer: str, recwarn: pytest.WarningsRecorder
) -> None:
    # Before, the coroutine was returned as the call's result: a success recorded at once, the
    # body never run through the pipeline (and run unguarded if the caller awaited it).
    breaker = SreBreaker(clock=r.clock)
    wrapping: dict[str, list[Any]] = {"none": [], "retry": [Retry(3)], "fallback": [Fallback("x")]}
    pipe = r.pipeline([*wrapping[outer], Breaker(breaker), Timeout(1.0)], idempotent=True)
    runs: list[str] = []

    async def charge() -> str:
        runs.append("charged")
        return "receipt"

    with pytest.raises(TypeError, match=r"pipe\.call\(.*charge\) returned a coroutine.*acall"):
        pipe.call(charge)  # type: ignore[unused-coroutine]
    gc.collect()
    assert runs == []
    assert not [w for w in recwarn if "never awaited" in str(w.message)]  # it was closed
    assert breaker.counts() == (1, 1)  # the stages saw a call that returned
    r.tracker.assert_all_ended()


def test_decorator_refuses_generator_functions(r: Rig) -> None:
    # Calling a generator function only creates the generator: the pipeline would record a
    # success at once and the body (and its failures) would run outside it.
    breaker = SreBreaker(clock=r.clock)
    pipe = r.pipeline([Breaker(breaker)])

    def rows() -> Iterator[int]:
        yield 1

    async def arows() -> AsyncIterator[int]:
        yield 1

    with pytest.raises(TypeError, match=r"'.*rows', a generator function.*pipe\.call"):
        pipe(rows)
    with pytest.raises(TypeError, match="arows', an async generator function"):
        pipe(arows)
    assert breaker.counts() == (0, 0)


def test_time_left_inside_a_timed_call(r: Rig) -> None:
    pipe = r.pipeline([Timeout(0.5)])

    def work() -> float | None:
        r.clock.advance(0.2)
        return time_left()

    assert pipe.call(work) == pytest.approx(0.3)
    assert time_left() is None


def test_guard_sync(r: Rig) -> None:
    breaker = SreBreaker(clock=r.clock)
    pipe = r.pipeline([Breaker(breaker), Timeout(EmaTimeout())])
    with pipe.guard():
        r.clock.advance(0.01)
    with pytest.raises(Boom), pipe.guard():
        raise Boom
    assert breaker.counts() == (2, 1)
    r.tracker.assert_all_ended()
    assert [o.code for _, o in r.recorder.ended] == [grpc.StatusCode.OK, grpc.StatusCode.UNKNOWN]


def test_guard_refused_never_enters_the_block(r: Rig) -> None:
    pipe = r.pipeline([Refuse()])
    entered = False
    with pytest.raises(Rejected), pipe.guard():
        entered = True
    assert not entered
    assert r.recorder.ended[0][1].reject_reason == "breaker"


def test_guard_async(r: Rig) -> None:
    breaker = SreBreaker(clock=r.clock)
    pipe = r.pipeline([Breaker(breaker)])

    async def main() -> None:
        async with pipe.guard():
            await asyncio.sleep(0)
        with pytest.raises(Boom):
            async with pipe.guard():
                raise Boom

    asyncio.run(main())
    assert breaker.counts() == (2, 1)
    r.tracker.assert_all_ended()


def test_guard_refuses_wrapping_stages(r: Rig) -> None:
    pipe = r.pipeline([Retry()], idempotent=True)
    with pytest.raises(TypeError, match="with-block"):
        pipe.guard()


def test_rejected_carries_retry_after(r: Rig) -> None:
    with pytest.raises(Rejected, match=r"retry after 1\.5 s") as caught:
        r.pipeline([Refuse()]).call(lambda: None)
    assert caught.value.retry_after == 1.5


def _raise(error: BaseException) -> None:
    raise error
