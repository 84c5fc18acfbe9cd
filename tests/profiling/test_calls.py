"""Which call a thread or task runs: the registration the sampler's labels come from, on both
ways of finding the current task (the one this interpreter uses and the other one)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Hashable

import pytest

from resilience.context import CallContext
from resilience.profiling import _calls

Begin = Callable[[_calls.LabeledCall, bool], Hashable | None]
BEGINS = [_calls._begin_task_first, _calls._begin_loop_first]


class Call:
    def __init__(self, method: str) -> None:
        self.call_context = CallContext(method=method)
        self.otel_context = None


async def register_and_look(begin: Begin, call: Call) -> tuple[Hashable | None, object, object]:
    key = begin(call, True)
    seen = _calls.call_on(threading.get_ident())
    assert key is not None
    _calls.end(key, call, 0.001)
    return key, asyncio.current_task(), seen


@pytest.mark.parametrize("begin", BEGINS, ids=["task_first", "loop_first"])
def test_an_aio_call_is_keyed_by_its_task_and_seen_on_its_thread(begin: Begin) -> None:
    _calls.arm()
    call = Call("/a.B/C")
    key, task, seen = asyncio.run(register_and_look(begin, call))
    assert key is task
    assert seen is call
    assert _calls.inflight() == 0


@pytest.mark.parametrize("begin", BEGINS, ids=["task_first", "loop_first"])
def test_a_thread_that_runs_a_new_loop_is_seen_on_the_new_one(begin: Begin) -> None:
    _calls.arm()
    first, second = Call("/a.B/First"), Call("/a.B/Second")
    asyncio.run(register_and_look(begin, first))
    key, task, seen = asyncio.run(register_and_look(begin, second))  # a new loop, same thread
    assert key is task
    assert seen is second


@pytest.mark.parametrize("begin", BEGINS, ids=["task_first", "loop_first"])
def test_an_aio_registration_outside_a_task_is_skipped(begin: Begin) -> None:
    _calls.arm()

    async def from_a_loop_callback() -> Hashable | None:
        done: asyncio.Future[Hashable | None] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(lambda: done.set_result(begin(Call("/a"), True)))
        return await done

    assert asyncio.run(from_a_loop_callback()) is None
    assert _calls.inflight() == 0


def test_a_sync_call_is_keyed_by_its_thread() -> None:
    _calls.arm()
    call = Call("/a.B/C")
    key = _calls.begin(call, False)
    assert key == threading.get_ident()
    assert _calls.call_on(threading.get_ident()) is call
    assert key is not None
    _calls.end(key, call, 0.001)
    assert _calls.inflight() == 0
