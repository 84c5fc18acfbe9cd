"""A pipeline tells each observer only what its declared interest includes: starts, ends and
decision events of client calls (a pipeline's calls are the client side)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from resilience.events import Interest
from resilience.pipeline import Pipeline, Retry

from .helpers import Boom, Recorder, Rig


class EventsOnly(Recorder):
    interest = Interest(starts=False, ends=False)


class EndsOnly(Recorder):
    interest = Interest(starts=False, events=False)


class ServerOnly(Recorder):
    interest = Interest(sides=("server",))


def _pipeline(r: Rig, observers: list[Recorder]) -> Pipeline:
    return Pipeline(
        [Retry(3, rng=random.Random(0))],
        name="dep",
        idempotent=True,
        observers=observers,
        clock=r.clock,
        sleep=r.time.sleep,
        asleep=r.time.asleep,
    )


def _twice_failing() -> Callable[[], str]:
    calls = [0]

    def call() -> str:
        calls[0] += 1
        if calls[0] <= 2:
            raise Boom(calls[0])
        return "ok"

    return call


def test_each_observer_hears_only_what_it_declares(r: Rig) -> None:
    events, ends, server, everything = EventsOnly(), EndsOnly(), ServerOnly(), Recorder()
    pipe = _pipeline(r, [events, ends, server, everything])

    assert pipe.call(_twice_failing()) == "ok"

    assert (events.started, events.ended, events.names()) == ([], [], ["pipeline.retry"] * 2)
    assert (ends.started, ends.events, len(ends.ended)) == ([], [], 1)
    # a server-only observer still gets decision events (they have no side), no call reports
    assert (server.started, server.ended, server.names()) == ([], [], ["pipeline.retry"] * 2)
    assert (len(everything.started), len(everything.ended)) == (1, 1)
    assert everything.names() == ["pipeline.retry"] * 2


def test_the_async_path_and_a_guard_obey_it_too(r: Rig) -> None:
    events, ends = EventsOnly(), EndsOnly()
    pipe = _pipeline(r, [events, ends])

    async def answer() -> str:
        return "ok"

    assert asyncio.run(pipe.acall(answer)) == "ok"
    plain = Pipeline([], name="plain", observers=[events, ends], clock=r.clock)
    with plain.guard():
        pass

    assert (events.started, events.ended) == ([], [])
    assert ends.started == []
    assert [info.method for info, _ in ends.ended] == ["dep", "plain"]
