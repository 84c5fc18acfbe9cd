"""Fallback: a value or a function's answer on refusal or failure, nothing else."""

from __future__ import annotations

import asyncio

import pytest

from resilience.algorithms import SlidingWindowLimiter
from resilience.pipeline import CallTimeout, Fallback, RateLimit, Timeout

from .helpers import Boom, Rig


def test_value_on_rejection(r: Rig) -> None:
    limiter = SlidingWindowLimiter(0, clock=r.clock)
    pipe = r.pipeline([Fallback("cached"), RateLimit(limiter)])
    assert pipe.call(lambda: "fresh") == "cached"
    assert r.recorder.events == [("pipeline.fallback", {"cause": "rejected", "pipeline": "dep"})]


def test_function_on_failure_gets_the_error(r: Rig) -> None:
    pipe = r.pipeline([Fallback(function=lambda e: f"fallback after {e!r}")])
    assert pipe.call(_raise, Boom("x")) == "fallback after Boom('x')"


def test_refused_result_falls_back_with_no_error(r: Rig) -> None:
    pipe = r.pipeline([Fallback(function=lambda e: e)], failure_if=lambda s: s >= 500)
    assert pipe.call(lambda: 503) is None
    assert pipe.call(lambda: 200) == 200


def test_only_the_chosen_causes(r: Rig) -> None:
    limiter = SlidingWindowLimiter(0, clock=r.clock)
    pipe = r.pipeline([Fallback(0, on_rejection=False), RateLimit(limiter)])
    with pytest.raises(Exception, match="refused"):
        pipe.call(lambda: 1)


def test_a_timeout_falls_back(r: Rig) -> None:
    def slow() -> int:
        r.clock.advance(1.0)
        return 1

    pipe = r.pipeline([Fallback(-1), Timeout(0.5)])
    assert pipe.call(slow) == -1
    assert r.recorder.events[0][1]["cause"] == "timeout"


def test_async_function_fallback(r: Rig) -> None:
    async def answer(error: BaseException | None) -> str:
        return "async fallback"

    async def fail() -> str:
        raise Boom

    pipe = r.pipeline([Fallback(function=answer)])
    assert asyncio.run(pipe.acall(fail)) == "async fallback"


def test_cancellation_is_not_replaced(r: Rig) -> None:
    pipe = r.pipeline([Fallback("x")])

    async def cancelled() -> str:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(pipe.acall(cancelled))


def test_exactly_one_answer() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Fallback()
    with pytest.raises(ValueError, match="exactly one"):
        Fallback(1, function=lambda e: 2)


def test_fallback_of_a_call_timeout_type(r: Rig) -> None:
    assert issubclass(CallTimeout, TimeoutError)


def _raise(error: BaseException) -> None:
    raise error


def test_a_function_given_as_the_value_is_refused_with_what_to_write() -> None:
    # Fallback(lambda error: cached) read naturally, and answered with the lambda itself.
    with pytest.raises(TypeError, match=r"Fallback\(function=fn\) to answer with fn\(error\)"):
        Fallback(lambda error: "cached")
    assert Fallback(function=lambda error: len).name == "fallback"  # the explicit way
