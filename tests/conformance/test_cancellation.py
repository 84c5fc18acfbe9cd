"""A call that ends early (the caller cancels it, or its deadline passes) while it waits at any
point of the server or client path still ends exactly once: both sides report its end once,
its spans end, its overload permit is released and the active-calls gauges read 0 again.

The points a call waits at: a server hook (held on an event), an injected fault delay, the
exact Redis limit decision (Redis held with ``CLIENT PAUSE``), and the handler (held on an
event). Each point x {cancel, deadline} x three shapes x {sync, aio}. On a sync server a
cancelled call still runs to the end of the point it waits at (gRPC cannot interrupt a
thread); it then ends with the caller's status. On grpc.aio the wait itself is cancelled.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import grpc
import grpc.aio
import pytest

from backends.conftest import running_redis
from resilience.policy import Policy
from resilience.testing import EchoBehavior
from timing import Stopwatch

from ._ending import NEVER_SHED, Gate, Stack
from .conftest import LoopThread, wait_until

CANCELLED = grpc.StatusCode.CANCELLED
POINTS = ("hook", "fault", "store", "handler")
SHAPES = ("unary_unary", "unary_stream", "stream_stream")
HELD_DEADLINE = 1.0
"""Seconds of the deadline of a call held at a gate or by Redis (it never gets through); long
enough for the call to reach the server on a loaded host."""
FAULT_DELAY, FAULT_DEADLINE = 1.5, 1.0
"""An injected delay longer than the call's deadline (sync servers sleep it out)."""
PAUSE_MS = 10_000
"""How long Redis stays paused at most (the test unpauses it as soon as the caller is done)."""
REACH_BOUND = 0.5
"""Seconds a call may take to reach the point it waits at (a few milliseconds on a quiet
host): a call whose deadline passed first is judged against this (see tests/timing.py)."""


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A redis-server of the test's own: a pause or a cancelled command of one scenario never
    reaches the next."""
    with running_redis() as server:
        yield server.url


def policy(*, store: str | None = None, fault: bool = False) -> Policy:
    """Every call holds an overload permit; ``store``: an exact Redis limit (socket and
    connect timeouts long enough that the pause, never a timeout, decides); ``fault``: a
    delay on every call."""
    method: dict[str, Any] = {"overload": {"cpu_thresholds": NEVER_SHED}}
    if store is not None:
        limit = {"limit": 10_000, "window": 60.0, "mode": "exact", "key": "cancel"}
        method["rate_limit"] = {
            **limit,
            "store": f"{store}?socket_timeout=30&socket_connect_timeout=30",
        }
    tree: dict[str, Any] = {"methods": {"*": method}}
    if fault:
        tree["faults"] = [{"delay": FAULT_DELAY}]
        tree["chaos"] = {"enabled": True}
    return Policy.from_dict(tree)


def redis_command(url: str, *args: str) -> None:
    """Send one command on a fresh raw connection and check it answers +OK. (redis-py 8
    itself sends a command of its own after ``CLIENT PAUSE``, which the pause then holds.)"""
    parsed = urlsplit(url)
    request = f"*{len(args)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in args)
    address = (parsed.hostname, parsed.port or 6379)
    with socket.create_connection(address, timeout=5) as connection:
        connection.sendall(request.encode())
        answer = connection.recv(64)
    assert answer == b"+OK\r\n", answer


class Scenario:
    """The stack for one point, what tells that a call reached it, and how to let it go."""

    def __init__(self, point: str, loop: LoopThread | None, redis_url: str) -> None:
        self.gate = Gate(None if loop is None else loop.loop)
        self._paused: str | None = None
        behavior = EchoBehavior()
        self.contexts: list[Any] = []
        hooks: list[Any] = [self._remember]
        if point in ("hook", "handler"):
            held: Callable[[], Any] = self.gate.wait if loop is None else self.gate.wait_aio
            if point == "hook":
                hooks.append(lambda method, metadata, request, context: held())
            else:
                behavior.on_call = lambda request, context: held()
        self.stack = Stack(
            loop,
            server_policy=policy(
                store=redis_url if point == "store" else None, fault=point == "fault"
            ),
            behavior=behavior,
            hooks=hooks,
        )
        self.reached: Callable[[], bool] = (
            self.gate.entered.is_set
            if point in ("hook", "handler")
            else lambda: self.stack.server_ends.started > 0
        )
        if point == "store":
            self._paused = redis_url
            redis_command(redis_url, "CLIENT", "PAUSE", str(PAUSE_MS), "WRITE")

    def _remember(self, method: str, metadata: Any, request: Any, context: Any) -> None:
        self.contexts.append(context)

    def server_knows(self) -> bool:
        """Whether the server has seen the call end (before the test lets it go, so that a
        sync handler, or one the gate releases, does not return before gRPC told it)."""
        return bool(self.stack.server_ends.codes) or any(map(_over, self.contexts))

    def let_go(self) -> None:
        wait_until(self.server_knows)
        self.gate.open()
        if self._paused is not None:
            redis_command(self._paused, "CLIENT", "UNPAUSE")
            self._paused = None


def _over(context: Any) -> bool:
    is_active = getattr(context, "is_active", None)  # sync contexts
    return not is_active() if is_active is not None else bool(context.done())


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("how", ["cancel", "deadline"])
@pytest.mark.parametrize("point", POINTS)
def test_a_call_ending_early_at_any_point_ends_exactly_once(
    request: pytest.FixtureRequest,
    flavour: str,
    loop_thread: LoopThread,
    point: str,
    how: str,
    shape: str,
) -> None:
    redis_url = request.getfixturevalue("redis_url") if point == "store" else ""
    scenario = Scenario(point, loop_thread if flavour == "aio" else None, redis_url)
    stack = scenario.stack
    expected = CANCELLED if how == "cancel" else grpc.StatusCode.DEADLINE_EXCEEDED
    deadline = FAULT_DEADLINE if point == "fault" else HELD_DEADLINE
    try:
        with Stopwatch() as watch:
            call = stack.start(shape, timeout=30.0 if how == "cancel" else deadline)
            wait_until(lambda: scenario.reached() or call.done())
        if not scenario.reached():  # over before it got there: judged as a bound on reaching
            if not watch.within(REACH_BOUND, f"the call reaching the {point}"):
                return
            raise AssertionError(f"the call ended ({call.code()}) before it reached the {point}")
        if how == "cancel":
            call.cancel()
        assert call.code() is expected
    finally:
        scenario.let_go()
    try:
        broken = stack.check(1)
        codes = (stack.server_ends.codes, stack.client_ends.codes)
    finally:
        stack.close()
    assert broken == []
    assert codes[1] == [expected]
    # The client's deadline passes first and cancels the call: gRPC sends the deadline as a
    # rounded timeout, so the server's own deadline may still be a few milliseconds away.
    allowed = [[expected], [CANCELLED]] if how == "deadline" else [[expected]]
    if flavour == "aio" and point == "store" and how == "cancel":
        # The cancellation of an aio call waiting on the paused Redis may not reach the server
        # until Redis answers (measured under a CPU hog: 4 to 6 of 25 stream_stream calls,
        # 1 of 25 unary_unary, about 1 in 80 without it; the server learnt of it only when the
        # 10 s pause ran out): the handler then went on and the server reports its answer,
        # OK. The call still ended exactly once, as asserted above.
        allowed.append([grpc.StatusCode.OK])
    assert codes[0] in allowed
    assert (stack.server_ends.codes, stack.client_ends.codes) == codes  # nothing ended twice


def test_many_calls_ending_at_admission_release_every_permit(
    flavour: str, loop_thread: LoopThread
) -> None:
    """Twenty calls held in a hook at once, all cancelled: all end."""
    gate = Gate(loop_thread.loop if flavour == "aio" else None)
    hook: Any = (lambda *args: gate.wait_aio()) if flavour == "aio" else (lambda *args: gate.wait())
    stack = Stack(
        loop_thread if flavour == "aio" else None,
        server_policy=policy(),
        hooks=[hook],
    )
    try:
        calls = [stack.start("unary_unary", timeout=30.0) for _ in range(20)]
        assert wait_until(lambda: stack.server_ends.started == 20)
        for call in calls:
            call.cancel()
        codes = [call.code() for call in calls]
    finally:
        gate.open()
    try:
        broken = stack.check(20)
    finally:
        stack.close()
    assert codes == [CANCELLED] * 20
    assert broken == []


def test_a_call_on_a_closed_channel_ends(flavour: str, loop_thread: LoopThread) -> None:
    """A call gRPC refuses to start (the channel is closed: grpc.aio raises UsageError, a sync
    intercepted channel answers INTERNAL) still ends on the client: reported CANCELLED (it
    never went out), its span and its active-calls count ended."""
    stack = Stack(loop_thread if flavour == "aio" else None, server_policy=policy())
    try:
        if stack.loop is None:
            stack.channel.close()
        else:
            stack.loop.run(stack.channel.close())
        for shape in SHAPES:
            try:
                code = stack.start(shape, timeout=5.0).code()
            except grpc.aio.UsageError:
                code = None
            assert code in (None, grpc.StatusCode.INTERNAL)
        ends = stack.client_ends
        assert (ends.started, ends.codes) == (len(SHAPES), [CANCELLED] * len(SHAPES))
        assert stack.active_calls("client") == 0
        assert (stack.spans.started, stack.spans.ended) == (len(SHAPES), len(SHAPES))
    finally:
        stack.close()


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("how", ["cancel", "deadline"])
def test_a_call_ending_early_in_a_bulkhead_queue_ends_exactly_once(
    flavour: str, loop_thread: LoopThread, how: str, shape: str
) -> None:
    """One more point a call waits at: a server bulkhead's queue (its one place held by a call
    in the handler). The queued call ends once, with the caller's status, and leaves nothing
    held: its queue place, its overload permit, its spans and gauges."""
    loop = loop_thread if flavour == "aio" else None
    gate = Gate(None if loop is None else loop.loop)
    held: Callable[[], Any] = gate.wait if loop is None else gate.wait_aio
    bulkhead = {"max_concurrent": 1, "max_queue": 1, "max_wait": 30}
    server_policy = Policy.from_dict(
        {"methods": {"*": {"overload": {"cpu_thresholds": NEVER_SHED}, "bulkhead": bulkhead}}}
    )
    stack = Stack(
        loop,
        server_policy=server_policy,
        behavior=EchoBehavior(on_call=lambda request, context: held()),
    )
    expected = CANCELLED if how == "cancel" else grpc.StatusCode.DEADLINE_EXCEEDED
    try:
        holder = stack.start("unary_unary", timeout=30.0)
        assert wait_until(gate.entered.is_set)
        queued = stack.start(shape, timeout=30.0 if how == "cancel" else HELD_DEADLINE)
        assert wait_until(lambda: stack.server_ends.started == 2 or queued.done())
        if how == "cancel":
            queued.cancel()
        assert queued.code() is expected
        assert wait_until(lambda: len(stack.server_ends.codes) == 1)
    finally:
        gate.open()
    try:
        assert holder.code() is grpc.StatusCode.OK
        broken = stack.check(2)
        codes = (stack.server_ends.codes, stack.client_ends.codes)
    finally:
        stack.close()
    assert broken == []
    allowed = [expected, CANCELLED] if how == "deadline" else [expected]
    assert codes[0][0] in allowed  # the queued call ended first, with the caller's status
    assert codes[0][1] is grpc.StatusCode.OK
    assert sorted(map(str, codes[1])) == sorted(map(str, [expected, grpc.StatusCode.OK]))
