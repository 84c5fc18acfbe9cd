"""The policy's ``hedging`` section on real echo servers, sync and aio, interceptor and
``protect()`` forms: a server that is slow only for chosen requests (the first attempt of a
chosen payload waits until the client cancels it), so a hedge is what answers, and the loser's
cancellation is seen by the server. No timing is asserted: the test waits on events."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from threading import Timer
from typing import Any

import grpc
import grpc.aio
import pytest

from resilience import AioClientInterceptor, ClientInterceptor, Policy
from resilience.interceptors._sync_attempts import AttemptsFuture
from resilience.testing import AioEchoServer, EchoBehavior, EchoServer

from .test_client_retry_forms import UNARY, aio_channel, breaker_counts, sync_channel

pytestmark = pytest.mark.e2e

# The sync interceptor form hedges .future() calls only: grpc.intercept_channel hands a blocking
# call's interceptor a continuation that waits for the attempt (see docs/policy.md).
CASES = [
    ("sync", "future"),
    ("sync-protected", "call"),
    ("sync-protected", "with_call"),
    ("sync-protected", "future"),
    ("aio", "call"),
    ("aio-protected", "call"),
]
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
WAIT = 30.0
"""Seconds a slow attempt waits for its cancellation, and the test for any event: a bound on
a stuck run, never reached by a passing one."""


class Server:
    """``on_call`` for the echo server: the first attempt of each payload in ``slow`` (every
    attempt with ``hold_every``) waits until the client cancels it (seen: ``cancelled``);
    attempts listed in ``fail`` (payload, attempt number) end with that status code; any other
    attempt answers."""

    def __init__(
        self,
        aio: bool,
        slow: set[bytes],
        fail: dict[tuple[bytes, int], grpc.StatusCode] | None = None,
        hold_every: bool = False,
    ) -> None:
        self.aio = aio
        self.slow = slow
        self.fail = fail or {}
        self.hold_every = hold_every
        self.pushback: str | None = None
        """The ``grpc-retry-pushback-ms`` the ``fail`` attempts send, if any."""
        self.seen: Counter[bytes] = Counter()
        self.cancelled = threading.Event()
        self.arrivals = threading.Semaphore(0)
        """Released once per attempt that reached the handler."""
        self.cancellations = threading.Semaphore(0)
        """Released once per held attempt the client cancelled."""
        self.lock = threading.Lock()

    def attempts(self) -> int:
        return sum(self.seen.values())

    def __call__(self, request: bytes, context: Any) -> Any:
        with self.lock:
            self.seen[request] += 1
            number = self.seen[request]
        self.arrivals.release()
        code = self.fail.get((request, number))
        if code is not None and self.pushback is not None:
            context.set_trailing_metadata((("grpc-retry-pushback-ms", self.pushback),))
        if code is not None:
            return context.abort(code, "chosen failure")  # aio: a coroutine, awaited
        if request in self.slow and (number == 1 or self.hold_every):
            return self._hold_aio() if self.aio else self._hold(context)
        return None

    def _hold(self, context: Any) -> None:
        gone = threading.Event()
        context.add_callback(gone.set)
        gone.wait(WAIT)
        if not context.is_active():
            self.cancelled.set()
            self.cancellations.release()

    async def _hold_aio(self) -> None:
        try:
            await asyncio.sleep(WAIT)
        except asyncio.CancelledError:
            self.cancelled.set()
            self.cancellations.release()
            raise


class Events:
    """An observer of decision events; ``then[name]`` runs when ``name`` is heard."""

    def __init__(self, then: dict[str, Callable[[], Any]] | None = None) -> None:
        self.events: list[tuple[str, dict[str, str]]] = []
        self.then = then or {}

    def call_started(self, call: Any) -> None:
        pass

    def call_ended(self, call: Any, outcome: Any) -> None:
        pass

    def event(self, name: str, attributes: Any) -> None:
        self.events.append((name, dict(attributes)))
        action = self.then.get(name)
        if action is not None:
            action()

    def attempts(self, name: str) -> list[str]:
        return [attributes["attempt"] for event, attributes in self.events if event == name]


def eventually(holds: Callable[[], bool]) -> bool:
    """Whether ``holds()`` is true within WAIT seconds (polled: what it waits for happens in
    gRPC's threads, with nothing to wait on)."""
    deadline = time.monotonic() + WAIT
    while not holds() and time.monotonic() < deadline:
        time.sleep(0.005)
    return holds()


def policy(**hedging: Any) -> Policy:
    section = {"delay": "5ms", **hedging}
    methods = {"/resilience.testing.Echo/*": {"read": True, "hedging": section}}
    return Policy.from_dict({"methods": methods})


def sync_call(channel: grpc.Channel, style: str, payload: bytes, timeout: float) -> Any:
    """One unary call in ``style``: the response, or the status code it failed with."""
    unary: Any = channel.unary_unary(UNARY)
    try:
        if style == "call":
            return unary(payload, timeout=timeout)
        if style == "with_call":
            response, call = unary.with_call(payload, timeout=timeout)
            assert call.code() is grpc.StatusCode.OK
            return response
        future = unary.future(payload, timeout=timeout)
        return future.result(timeout=WAIT * 2)
    except grpc.RpcError as error:
        return error.code()


def run(
    form: str,
    style: str,
    server: Server,
    chosen: Policy,
    payloads: list[bytes],
    events: Events | None = None,
    timeouts: dict[bytes, float] | None = None,
) -> tuple[list[Any], Any]:
    """The calls of ``payloads`` in turn, in ``form`` and ``style``, each with its timeout in
    ``timeouts`` (default a minute): (their responses or failure codes, the interceptor)."""
    observers = () if events is None else (events,)
    chosen_timeouts = [(timeouts or {}).get(p, WAIT * 2) for p in payloads]
    calls = list(zip(payloads, chosen_timeouts, strict=True))
    if form.startswith("aio"):
        return asyncio.run(_run_aio(form, server, chosen, calls, observers))
    interceptor = ClientInterceptor(chosen, observers=observers)
    with EchoServer(behavior=EchoBehavior(on_call=server)) as echo:
        channel = sync_channel(form, echo.address, interceptor)
        try:
            return [sync_call(channel, style, p, t) for p, t in calls], interceptor
        finally:
            channel.close()


async def _run_aio(
    form: str,
    server: Server,
    chosen: Policy,
    calls: list[tuple[bytes, float]],
    observers: tuple[Any, ...],
) -> tuple[list[Any], Any]:
    interceptor = AioClientInterceptor(chosen, observers=observers)
    results: list[Any] = []
    async with AioEchoServer(behavior=EchoBehavior(on_call=server)) as echo:
        channel = aio_channel(form, echo.address, interceptor)
        async with channel:
            unary: Any = channel.unary_unary(UNARY)
            for payload, timeout in calls:
                try:
                    results.append(await unary(payload, timeout=timeout))
                except grpc.aio.AioRpcError as error:
                    results.append(error.code())
    return results, interceptor


@pytest.mark.parametrize(("form", "style"), CASES)
def test_a_slow_attempt_is_hedged_and_the_loser_cancelled(form: str, style: str) -> None:
    server = Server(form.startswith("aio"), slow={b"slow"})
    events = Events()
    results, interceptor = run(form, style, server, policy(), [b"slow"], events)
    assert results == [b"slow"]
    assert server.seen[b"slow"] == 2
    assert server.cancelled.wait(WAIT), "the losing attempt was never cancelled"
    assert events.attempts("hedge.attempted") == ["2"]
    # The server holds whichever attempt reaches it first: on a loaded host the hedge may
    # overtake the first attempt, which then wins (and no hedge.won is told).
    assert events.attempts("hedge.won") in (["2"], [])
    # The breaker saw both attempts (the loser's end may be recorded after the call returned).
    assert eventually(lambda: breaker_counts(interceptor)[0] == 2)


@pytest.mark.parametrize(("form", "style"), CASES)
def test_a_fatal_status_ends_the_call_and_cancels_the_others(form: str, style: str) -> None:
    fail = {(b"slow", 2): grpc.StatusCode.INVALID_ARGUMENT}
    # The first attempt is held until cancelled: had the fatal answer not ended the call, the
    # first would have answered OK after WAIT seconds.
    server = Server(form.startswith("aio"), slow={b"slow"}, fail=fail)
    results, _ = run(form, style, server, policy(max_attempts=2), [b"slow"])
    assert results == [grpc.StatusCode.INVALID_ARGUMENT]
    assert server.seen[b"slow"] == 2
    assert server.cancelled.wait(WAIT), "the attempt in flight was never cancelled"


@pytest.mark.parametrize(("form", "style"), CASES)
def test_a_non_fatal_failure_sends_the_next_hedge_at_once(form: str, style: str) -> None:
    # The hedging delay (10 minutes) never passes: only the UNAVAILABLE answer sends the hedge.
    fail = {(b"x", 1): grpc.StatusCode.UNAVAILABLE}
    server = Server(form.startswith("aio"), slow=set(), fail=fail)
    events = Events()
    results, _ = run(form, style, server, policy(delay="10m"), [b"x"], events)
    assert results == [b"x"]
    assert server.seen[b"x"] == 2
    assert events.attempts("hedge.attempted") == ["2"]
    assert events.attempts("hedge.won") == ["2"]  # the first had failed before it was sent


@pytest.mark.parametrize(("form", "style"), CASES)
def test_a_server_s_pushback_delays_the_next_hedge(form: str, style: str) -> None:
    # The first attempt fails at once asking for 50 ms: nothing is in flight meanwhile, and
    # the hedge still goes once the pushback has passed (the 10-minute delay never does).
    server = Server(form.startswith("aio"), slow=set(), fail={(b"x", 1): UNAVAILABLE})
    server.pushback = "50"
    results, _ = run(form, style, server, policy(delay="10m"), [b"x"])
    assert results == [b"x"]
    assert server.seen[b"x"] == 2


@pytest.mark.parametrize(("form", "style"), CASES)
def test_a_negative_pushback_stops_the_hedges(form: str, style: str) -> None:
    server = Server(form.startswith("aio"), slow=set(), fail={(b"x", 1): UNAVAILABLE})
    server.pushback = "-1"
    results, _ = run(form, style, server, policy(delay="10m"), [b"x"])
    assert results == [grpc.StatusCode.UNAVAILABLE]
    assert server.seen[b"x"] == 1


@pytest.mark.parametrize(("form", "style"), CASES)
def test_an_empty_budget_sends_no_hedge(form: str, style: str) -> None:
    # The budget refuses the hedge; the slow attempt then runs into its 1 s deadline.
    server = Server(form.startswith("aio"), slow={b"slow"})
    events = Events()
    chosen = policy(budget=0, min_retries=0)
    results, _ = run(form, style, server, chosen, [b"slow"], events, {b"slow": 1.0})
    assert results == [grpc.StatusCode.DEADLINE_EXCEEDED]
    assert server.seen[b"slow"] == 1
    assert events.attempts("hedge.budget_exhausted") == ["2"]


@pytest.mark.parametrize(("form", "style"), CASES)
def test_the_delay_comes_from_observed_latencies_once_there_are_enough(
    form: str, style: str
) -> None:
    # No fixed delay: the first slow call, before any latency was seen, is not hedged (its
    # 0.5 s deadline ends it); after two answered calls the next slow one is.
    server = Server(form.startswith("aio"), slow={b"slow-1", b"slow-4"})
    chosen = policy(delay=None, min_samples=2, percentile=50)
    payloads = [b"slow-1", b"fast-2", b"fast-3", b"slow-4"]
    results, _ = run(form, style, server, chosen, payloads, timeouts={b"slow-1": 0.5})
    assert results == [grpc.StatusCode.DEADLINE_EXCEEDED, b"fast-2", b"fast-3", b"slow-4"]
    assert server.seen[b"slow-1"] == 1
    assert server.seen[b"slow-4"] == 2


@pytest.mark.parametrize("form", ["sync", "sync-protected"])
def test_cancelling_a_hedged_future_cancels_every_attempt(form: str) -> None:
    server = Server(False, slow={b"slow"}, hold_every=True)  # the hedge is held too
    interceptor = ClientInterceptor(policy(max_attempts=2), observers=())
    with EchoServer(behavior=EchoBehavior(on_call=server)) as echo:
        channel = sync_channel(form, echo.address, interceptor)
        try:
            unary: Any = channel.unary_unary(UNARY)
            future = unary.future(b"slow", timeout=WAIT * 2)
            assert server.arrivals.acquire(timeout=WAIT)
            assert server.arrivals.acquire(timeout=WAIT), "the hedge never reached the server"
            assert future.cancel()
            assert future.cancelled()
            assert future.code() is grpc.StatusCode.CANCELLED
            with pytest.raises(grpc.FutureCancelledError):
                future.result()
            assert server.cancellations.acquire(timeout=WAIT)
            assert server.cancellations.acquire(timeout=WAIT), "an attempt was not cancelled"
        finally:
            channel.close()
    assert server.seen[b"slow"] == 2


@pytest.mark.parametrize("form", ["aio", "aio-protected"])
def test_cancelling_a_hedged_aio_call_cancels_every_attempt(form: str) -> None:
    server = Server(True, slow={b"slow"}, hold_every=True)  # the hedge is held too

    async def scenario() -> None:
        interceptor = AioClientInterceptor(policy(max_attempts=2), observers=())
        async with AioEchoServer(behavior=EchoBehavior(on_call=server)) as echo:
            channel = aio_channel(form, echo.address, interceptor)
            async with channel:
                unary: Any = channel.unary_unary(UNARY)
                call = unary(b"slow", timeout=WAIT * 2)
                for _ in range(2):
                    assert await asyncio.to_thread(server.arrivals.acquire, True, WAIT)
                call.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await call
                for _ in range(2):
                    assert await asyncio.to_thread(server.cancellations.acquire, True, WAIT)

    asyncio.run(scenario())
    assert server.seen[b"slow"] == 2


@pytest.mark.parametrize(("form", "style"), [("sync-protected", "call"), ("aio", "call")])
def test_a_method_not_marked_read_is_never_hedged(form: str, style: str) -> None:
    server = Server(form.startswith("aio"), slow={b"slow"})
    methods = {"/resilience.testing.Echo/*": {"read": False, "hedging": {"delay": "5ms"}}}
    chosen = Policy.from_dict({"methods": methods})
    results, _ = run(form, style, server, chosen, [b"slow"], timeouts={b"slow": 0.5})
    assert results == [grpc.StatusCode.DEADLINE_EXCEEDED]
    assert server.seen[b"slow"] == 1


@pytest.mark.parametrize("form", ["sync", "sync-protected"])
def test_hedged_futures_leave_no_timer_thread_behind(form: str) -> None:
    # Every call answers long before its 10-minute hedge timer: each timer must end with its
    # call (cancelled), not wait out its 10 minutes.
    server = Server(False, slow=set())
    interceptor = ClientInterceptor(policy(delay="10m"), observers=())
    with EchoServer(behavior=EchoBehavior(on_call=server)) as echo:
        channel = sync_channel(form, echo.address, interceptor)
        try:
            unary: Any = channel.unary_unary(UNARY)
            names = [b"call-%d" % i for i in range(20)]
            futures = [unary.future(name, timeout=WAIT * 2) for name in names]
            assert [future.result(timeout=WAIT * 2) for future in futures] == names
        finally:
            channel.close()
    assert eventually(lambda: not attempt_timers())


def attempt_timers() -> list[Timer]:
    """The live timer threads of retried or hedged calls (other code may run timers too)."""
    return [
        thread
        for thread in threading.enumerate()
        if isinstance(thread, Timer)
        and isinstance(getattr(thread.function, "__self__", None), AttemptsFuture)
    ]
