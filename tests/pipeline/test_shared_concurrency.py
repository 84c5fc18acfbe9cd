"""One pipeline shared by 8 threads and 50 asyncio tasks at once, as a service shares it: every
permit is ended exactly once, whatever each call did (answered, failed, fell back, was
cancelled while running or while queued), and the bulkhead is empty at the end. Nothing here
waits on time: the tasks hold their places until an event, the clock is manual."""

from __future__ import annotations

import asyncio
import threading

from resilience.algorithms import OverloadGuard, SlidingWindowLimiter, SreBreaker
from resilience.pipeline import (
    Breaker,
    Bulkhead,
    Fallback,
    Overload,
    RateLimit,
    Timeout,
    time_left,
)

from .helpers import Boom, Rig

THREADS, CALLS_PER_THREAD, TASKS = 8, 200, 50


def test_threads_and_tasks_share_one_pipeline_and_end_every_permit(r: Rig) -> None:
    bulkhead = Bulkhead(3, max_queue=THREADS + TASKS)
    pipe = r.pipeline(
        [
            Fallback("fallback"),
            Breaker(SreBreaker(clock=r.clock)),
            bulkhead,
            Overload(OverloadGuard(clock=r.clock)),
            RateLimit(SlidingWindowLimiter(1_000_000, window=1.0, clock=r.clock)),
            Timeout(5.0),
        ]
    )
    answers: list[object] = []
    start = threading.Barrier(THREADS + 1)

    def worker(index: int) -> None:
        start.wait()
        for call in range(CALLS_PER_THREAD):

            def work(fails: bool = (index + call) % 4 == 0) -> float | None:
                if fails:
                    raise Boom()
                return time_left()

            answers.append(pipe.call(work))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()

    async def tasks() -> list[object]:
        release = asyncio.Event()

        async def held(index: int) -> str:
            await release.wait()
            if index % 5 == 0:
                raise Boom()
            return "held"

        running = [asyncio.ensure_future(pipe.acall(held, i)) for i in range(TASKS)]
        await asyncio.sleep(0)  # every task admitted or queued in the bulkhead
        start.wait()  # the threads start while the tasks hold or wait for places
        for task in running[::3]:
            task.cancel()
        release.set()
        return await asyncio.gather(*running, return_exceptions=True)

    results = asyncio.run(tasks())
    for thread in threads:
        thread.join()

    assert len(answers) == THREADS * CALLS_PER_THREAD
    assert {type(answer) for answer in answers} <= {float, str}  # time left or the fallback
    cancelled = [result for result in results if isinstance(result, asyncio.CancelledError)]
    assert len(cancelled) == len(range(0, TASKS, 3))
    assert {result for result in results if not isinstance(result, BaseException)} <= {
        "held",
        "fallback",
    }
    r.tracker.assert_all_ended()
    assert (bulkhead.active, bulkhead.queued) == (0, 0)
