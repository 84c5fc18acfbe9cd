"""Timeout: asyncio cancels at the bound; a sync call is judged when it returns."""

from __future__ import annotations

import asyncio

import pytest

from resilience.algorithms import EmaTimeout, SreBreaker
from resilience.pipeline import Breaker, CallTimeout, Timeout, time_left

from .helpers import Rig


def test_sync_call_past_its_timeout_raises_after_it_returns(r: Rig) -> None:
    breaker = SreBreaker(clock=r.clock)
    ema = EmaTimeout(t_avg=0.1, t_hwm=0.2, t_max=0.5)
    pipe = r.pipeline([Breaker(breaker), Timeout(ema)])
    finished = []

    def slow() -> str:
        r.clock.advance(0.7)
        finished.append(True)
        return "late"

    with pytest.raises(CallTimeout, match=r"0\.5 s"):
        pipe.call(slow)
    assert finished == [True]  # it ran to its end: nothing interrupted it
    assert breaker.counts() == (1, 0)
    assert ema.ema == pytest.approx(2 / 81 * 0.7)  # a timeout feeds max(latency, t_max)
    assert r.tracker.kinds("timeout") == ["timeout"]


def test_the_ema_sets_the_bound(r: Rig) -> None:
    ema = EmaTimeout(t_avg=0.1, t_hwm=0.2, t_max=0.5, n=1)
    ema.observe(0.3)  # ema at t_hwm or above: the timeout is t_hwm
    pipe = r.pipeline([Timeout(ema)])
    assert pipe.call(time_left) == pytest.approx(0.2)


def test_async_call_is_cancelled_at_its_timeout(r: Rig) -> None:
    cancelled = []

    async def slow() -> str:
        try:
            await r.time.asleep(10.0)
        except asyncio.CancelledError:
            cancelled.append(r.clock())
            raise
        return "never"

    pipe = r.pipeline([Timeout(0.5)])
    start = r.clock()
    with pytest.raises(CallTimeout):
        asyncio.run(pipe.acall(slow))
    assert cancelled == [pytest.approx(start + 0.5)]
    assert r.tracker.kinds("timeout") == ["timeout"]


def test_async_call_within_its_timeout(r: Rig) -> None:
    async def quick() -> str:
        await r.time.asleep(0.1)
        return "ok"

    assert asyncio.run(r.pipeline([Timeout(0.5)]).acall(quick)) == "ok"
    assert r.tracker.kinds("timeout") == ["success"]


def test_an_outer_cancellation_ends_permits_cancelled(r: Rig) -> None:
    breaker = SreBreaker(clock=r.clock)
    pipe = r.pipeline([Breaker(breaker), Timeout(5.0)])

    async def main() -> None:
        task = asyncio.ensure_future(pipe.acall(r.time.asleep, 10.0))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert r.tracker.kinds("breaker") == ["cancelled"]
    assert breaker.counts() == (0, 0)


def test_timeout_validation() -> None:
    with pytest.raises(ValueError, match="timeout must be > 0"):
        Timeout(0)
