"""Bulkhead: concurrent calls bounded, a bounded FIFO queue, slots freed by every end."""

from __future__ import annotations

import asyncio
import threading

import pytest

from resilience.pipeline import Attempt, Bulkhead, Rejected, Rejection, SyncStage

from .helpers import Rig


def test_sync_full_bulkhead_refuses(r: Rig) -> None:
    bulkhead = Bulkhead(1)
    pipe = r.pipeline([bulkhead])
    inside, release = threading.Event(), threading.Event()

    def hold() -> str:
        inside.set()
        release.wait(30)
        return "held"

    results: list[str] = []
    worker = threading.Thread(target=lambda: results.append(pipe.call(hold)))
    worker.start()
    assert inside.wait(30)
    with pytest.raises(Rejected) as caught:
        pipe.call(lambda: "second")
    assert caught.value.reason == "bulkhead"
    release.set()
    worker.join(30)
    assert results == ["held"]
    assert bulkhead.active == 0
    assert pipe.call(lambda: "third") == "third"


def test_sync_queued_call_runs_when_a_slot_frees(r: Rig) -> None:
    bulkhead = Bulkhead(1, max_queue=1)
    pipe = r.pipeline([bulkhead])
    inside, release = threading.Event(), threading.Event()
    order: list[str] = []

    def hold() -> None:
        inside.set()
        release.wait(30)
        order.append("first")

    first = threading.Thread(target=pipe.call, args=(hold,))
    first.start()
    assert inside.wait(30)
    second = threading.Thread(target=pipe.call, args=(lambda: order.append("second"),))
    second.start()
    while bulkhead.queued == 0:  # wait for the second call to queue (no sleep: a yield)
        threading.Event().wait(0.001)
    with pytest.raises(Rejected):
        pipe.call(lambda: None)  # the queue is full
    release.set()
    first.join(30)
    second.join(30)
    assert order == ["first", "second"]
    assert (bulkhead.active, bulkhead.queued) == (0, 0)


def test_async_queue_fifo_and_refusal(r: Rig) -> None:
    bulkhead = Bulkhead(1, max_queue=1)
    pipe = r.pipeline([bulkhead])
    order: list[str] = []

    async def work(name: str, gate: asyncio.Event) -> None:
        await gate.wait()
        order.append(name)

    async def main() -> None:
        gate = asyncio.Event()
        first = asyncio.ensure_future(pipe.acall(work, "first", gate))
        second = asyncio.ensure_future(pipe.acall(work, "second", gate))
        await asyncio.sleep(0)
        assert (bulkhead.active, bulkhead.queued) == (1, 1)
        with pytest.raises(Rejected):
            await pipe.acall(work, "third", gate)
        gate.set()
        await asyncio.gather(first, second)

    asyncio.run(main())
    assert order == ["first", "second"]
    assert (bulkhead.active, bulkhead.queued) == (0, 0)


def test_async_cancelled_waiter_leaves_the_queue(r: Rig) -> None:
    bulkhead = Bulkhead(1, max_queue=1)
    pipe = r.pipeline([bulkhead])

    async def main() -> None:
        gate = asyncio.Event()
        first = asyncio.ensure_future(pipe.acall(gate.wait))
        waiting = asyncio.ensure_future(pipe.acall(gate.wait))
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert bulkhead.queued == 0
        gate.set()
        await first

    asyncio.run(main())
    assert (bulkhead.active, bulkhead.queued) == (0, 0)


def test_a_refusal_after_the_bulkhead_frees_its_slot(r: Rig) -> None:
    class Refuse(SyncStage):
        name = "refuse"

        def admit(self, attempt: Attempt) -> Rejection:
            return Rejection("rate_limit")

    bulkhead = Bulkhead(1)
    pipe = r.pipeline([bulkhead, Refuse()])
    with pytest.raises(Rejected):
        pipe.call(lambda: None)
    assert bulkhead.active == 0
    assert r.tracker.kinds("bulkhead") == ["not_run"]


def test_bulkhead_validation() -> None:
    with pytest.raises(ValueError, match="max_concurrent"):
        Bulkhead(0)
    with pytest.raises(ValueError, match="max_queue"):
        Bulkhead(1, max_queue=-1)
