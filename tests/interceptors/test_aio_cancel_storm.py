"""500 calls at once through a grpc.aio channel with a client bulkhead (10 at once, a queue of
1,000), ``protect()`` and interceptor forms, every shape: half are cancelled at random points
(``task.cancel()``, ``asyncio.wait_for`` timeouts), queued or sent. Afterwards nothing is
held (the bulkhead's active and queued are 0, every call the observers heard start has ended
once: no call in flight) and every call not cancelled completed."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import grpc
import grpc.aio
import pytest

from resilience.interceptors import AioClientInterceptor
from resilience.policy import Policy
from resilience.testing import ECHO_METHODS, AioEchoServer, EchoBehavior, aio_echo_call

from .harness import Recorder

pytestmark = pytest.mark.e2e  # a real server on 127.0.0.1

CALLS = 500
POLICY = Policy.from_dict(
    {
        "methods": {
            "/resilience.testing.Echo/*": {
                "bulkhead": {"max_concurrent": 10, "max_queue": 1000, "max_wait": 30},
                "breaker": False,
            }
        }
    }
)
SHAPES = list(ECHO_METHODS)


def fate(index: int) -> str:
    """Call ``index``'s fate: half complete, a quarter under ``asyncio.wait_for`` with a
    random timeout, a quarter ``task.cancel()``-ed at a random time (each shape alike)."""
    return ("complete", "complete", "timeout", "cancel")[(index // 4) % 4]


def _held(client: AioClientInterceptor, name: str) -> float:
    return sum(float(r.value) for r in client.gauge_readings() if r.name == f"bulkhead.{name}")


async def every_end_heard(recorder: Recorder, seconds: float = 10.0) -> None:
    """Run the loop until the observers heard every started call end, or ``seconds`` pass: a
    call cancelled after it was sent ends when gRPC's done callback runs, a few loop steps
    after its task (later on a loaded host). The test then asserts the counts."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + seconds
    while len(recorder.ended) < len(recorder.started) and loop.time() < give_up:
        await asyncio.sleep(0.01)


@pytest.mark.xfail(
    strict=False,
    reason="open bug: under a CPU hog (make stress), about one run in five loses one call's end"
    " (503 of 504 ends heard after waiting 10 s; the bulkhead is freed): a cancellation race"
    " in the aio client path not yet found",
)
@pytest.mark.parametrize("form", ["protect", "interceptors"])
def test_half_of_500_calls_cancelled_at_random_leave_nothing_held(form: str) -> None:
    chance = random.Random(20261204)
    recorder = Recorder()
    client = AioClientInterceptor(POLICY, observers=[recorder])

    async def scenario() -> tuple[list[Any], list[Any]]:
        async with AioEchoServer(behavior=EchoBehavior(latency=0.02, stream_items=2)) as server:
            if form == "protect":
                channel: Any = client.protect(grpc.aio.insecure_channel(server.address))
            else:
                channel = grpc.aio.insecure_channel(server.address, interceptors=client)
            async with channel:
                expected = [await aio_echo_call(channel, shape, timeout=20) for shape in SHAPES]

                async def call(index: int) -> Any:
                    made = aio_echo_call(channel, SHAPES[index % 4], timeout=20)
                    if fate(index) == "timeout":
                        return await asyncio.wait_for(made, chance.uniform(0, 1.0))
                    return await made

                tasks = [asyncio.ensure_future(call(i)) for i in range(CALLS)]
                loop = asyncio.get_running_loop()
                for index, task in enumerate(tasks):
                    if fate(index) == "cancel":
                        loop.call_later(chance.uniform(0, 1.0), task.cancel)
                done = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 18)
                await every_end_heard(recorder)
                return expected, done

    expected, results = asyncio.run(scenario())
    for index, result in enumerate(results):
        answer = expected[index % 4]
        if fate(index) == "complete":
            assert result == answer, (index, result)
        elif fate(index) == "timeout":
            assert result == answer or isinstance(result, asyncio.TimeoutError), result
        else:
            assert result == answer or isinstance(result, asyncio.CancelledError), result
    assert (_held(client, "active"), _held(client, "queued")) == (0, 0)
    assert len(recorder.started) == len(recorder.ended) == CALLS + 4
    codes = {outcome.code for _, outcome in recorder.ended}
    assert codes <= {grpc.StatusCode.OK, grpc.StatusCode.CANCELLED}, codes
    cut = sum(isinstance(r, BaseException) for r in results)
    assert cut > CALLS // 4  # most of the half cut short was, queued or sent
