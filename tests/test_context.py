"""resilience.context: the call context follows threads and asyncio tasks, never leaking."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Iterator

import pytest

from resilience import context
from resilience.context import (
    EMPTY_CALL_CONTEXT,
    CallContext,
    current_call_context,
    current_color,
    current_deadline,
    current_tier,
    is_failover,
    is_shadow,
    set_shadow_colors,
    tier,
    traffic_color,
    use_call_context,
)


@pytest.fixture(autouse=True)
def _default_shadow_colors() -> Iterator[None]:
    yield
    set_shadow_colors(None)


def test_outside_any_call_nothing_is_set() -> None:
    assert current_call_context() is EMPTY_CALL_CONTEXT
    assert (current_color(), current_tier(), current_deadline()) == (None, None, None)
    assert not is_shadow()
    assert not is_failover()
    assert context.time_remaining() is None


def test_traffic_color_applies_inside_the_block_only() -> None:
    with traffic_color("loadtest") as inside:
        assert current_color() == "loadtest"
        assert inside.color == "loadtest"
        with traffic_color(None):
            assert current_color() is None
        assert current_color() == "loadtest"
    assert current_color() is None


def test_a_color_keeps_the_rest_of_the_call_context() -> None:
    call = CallContext(color="a", tier=1, deadline=123.0, failover=True)
    with use_call_context(call), traffic_color("b"), tier(3):
        assert current_call_context() == CallContext("b", 3, 123.0, True)
    with use_call_context(call):
        assert current_deadline() == 123.0
        assert is_failover()
    assert current_call_context() is EMPTY_CALL_CONTEXT


def test_set_and_reset_for_code_that_cannot_use_with() -> None:
    token = context.set_call_context(CallContext(tier=4))
    assert current_tier() == 4
    context.reset_call_context(token)
    assert current_tier() is None


@pytest.mark.parametrize(
    "name", ["", "x" * 65, "has space", "ünïcode", "semi;colon", "a/b", "new\nline"]
)
def test_invalid_colors_are_rejected(name: str) -> None:
    with pytest.raises(ValueError, match="traffic color must be 1 to 64 characters"):
        traffic_color(name)


@pytest.mark.parametrize("name", ["a", "x" * 64, "load-test_1.v2", "SHADOW"])
def test_valid_colors_are_accepted(name: str) -> None:
    assert context.valid_color(name)
    with traffic_color(name):
        assert current_color() == name


@pytest.mark.parametrize("value", [0, 5, True, "1", 1.0])
def test_invalid_tiers_are_rejected(value: object) -> None:
    with pytest.raises(ValueError, match="tier must be an int from 1"):
        tier(value)  # type: ignore[arg-type]


def test_every_color_is_shadow_traffic_by_default() -> None:
    with traffic_color("anything"):
        assert is_shadow()
    assert context.shadow_colors() is None


def test_shadow_colors_can_be_named() -> None:
    set_shadow_colors(["loadtest", "shadow"])
    assert context.shadow_colors() == frozenset({"loadtest", "shadow"})
    with traffic_color("loadtest"):
        assert is_shadow()
    with traffic_color("canary"):
        assert not is_shadow()
    set_shadow_colors([])
    with traffic_color("loadtest"):
        assert not is_shadow()


def test_shadow_colors_are_validated() -> None:
    with pytest.raises(ValueError, match="one string"):
        set_shadow_colors("loadtest")
    with pytest.raises(ValueError, match="invalid traffic colors"):
        set_shadow_colors(["ok", "not ok"])


def test_time_remaining_counts_down_to_the_deadline() -> None:
    with use_call_context(CallContext(deadline=0.0)):
        remaining = context.time_remaining()
        assert remaining is not None
        assert remaining < 0


def test_threads_do_not_see_each_others_context() -> None:
    barrier = threading.Barrier(8)
    seen: dict[int, tuple[str | None, int | None]] = {}

    def handle(worker: int) -> None:
        with traffic_color(f"c{worker}"), tier(worker % 4 + 1):
            barrier.wait(timeout=10)  # all set at once before anyone reads
            seen[worker] = (current_color(), current_tier())

    with traffic_color("main"):
        threads = [threading.Thread(target=handle, args=(w,)) for w in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert current_color() == "main"
    assert seen == {w: (f"c{w}", w % 4 + 1) for w in range(8)}


def test_a_copied_context_carries_the_color_into_a_thread() -> None:
    seen: list[str | None] = []
    with traffic_color("carried"):
        snapshot = contextvars.copy_context()
    thread = threading.Thread(target=snapshot.run, args=(lambda: seen.append(current_color()),))
    thread.start()
    thread.join()
    assert seen == ["carried"]


@pytest.mark.asyncio
async def test_asyncio_tasks_inherit_and_isolate_the_context() -> None:
    async def handle(worker: int) -> tuple[str | None, str | None]:
        inherited = current_color()
        with traffic_color(f"task{worker}"):
            await asyncio.sleep(0)  # let the other tasks run while this color is set
            return inherited, current_color()

    with traffic_color("parent"):
        results = await asyncio.gather(*(handle(w) for w in range(50)))
        assert current_color() == "parent"
    assert results == [("parent", f"task{w}") for w in range(50)]
    assert current_color() is None


def test_clearing_the_color_takes_it_out_of_the_baggage_for_the_block() -> None:
    from opentelemetry import baggage
    from opentelemetry import context as otel_context

    from resilience._base.keys import COLOR_BAGGAGE

    received = baggage.set_baggage("tenant", "a", baggage.set_baggage(COLOR_BAGGAGE, "loadtest"))
    token = otel_context.attach(received)  # as a server call's context holds its caller's
    try:
        with traffic_color(None):
            assert baggage.get_all() == {"tenant": "a"}  # only the color goes
        assert baggage.get_baggage(COLOR_BAGGAGE) == "loadtest"
        with traffic_color("other"):  # a new color is the client's to write: baggage kept
            assert baggage.get_baggage(COLOR_BAGGAGE) == "loadtest"
    finally:
        otel_context.detach(token)
