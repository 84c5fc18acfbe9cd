"""A pipeline tells each observer only what its declared interest includes: starts, ends and
decision events of client calls (a pipeline's calls are the client side)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from resilience.events import Interest, interest_changed
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


class Switchable(Recorder):
    """An observer that hears nothing until switched on (as the status page's statistics)."""

    interest = Interest((), starts=False, ends=False, events=False)

    def switch(self, interest: Interest) -> None:
        self.interest = interest
        interest_changed(self)


def test_a_changed_interest_is_followed_from_the_next_call(r: Rig) -> None:
    switchable = Switchable()
    pipe = _pipeline(r, [switchable])
    assert pipe.call(_twice_failing()) == "ok"
    assert (switchable.started, switchable.ended, switchable.events) == ([], [], [])

    switchable.switch(Interest())
    assert pipe.call(_twice_failing()) == "ok"

    async def answer() -> str:
        return "ok"

    assert asyncio.run(pipe.acall(answer)) == "ok"
    assert [info.method for info in switchable.started] == ["dep", "dep"]
    assert len(switchable.ended) == 2
    assert switchable.names() == ["pipeline.retry"] * 2

    switchable.switch(Interest((), starts=False, ends=False, events=False))
    assert pipe.call(_twice_failing()) == "ok"
    assert (len(switchable.started), len(switchable.ended), len(switchable.events)) == (2, 2, 2)


def test_a_call_running_across_the_change_ends_where_it_started(r: Rig) -> None:
    late, early = Switchable(), Switchable()
    early.interest = Interest()
    plain = Pipeline([], name="plain", observers=[late, early], clock=r.clock)

    with plain.guard():  # started while late hears nothing and early everything
        late.switch(Interest())
        early.switch(Interest((), starts=False, ends=False, events=False))

    assert (late.started, late.ended) == ([], [])  # not told of an end without its start
    assert [info.method for info, _ in early.ended] == ["plain"]  # its end as its start
    with plain.guard():
        pass
    assert [info.method for info, _ in late.ended] == ["plain"]
    assert len(early.ended) == 1
