"""The policy's ``retry`` section everywhere a client calls: the interceptor and ``protect()``
forms, sync and aio, and on sync channels every way of calling (``stub.Method(...)``,
``.with_call``, ``.future()``), on real echo servers. The same budget, pushback, deadline and
breaker rules hold in each; retries are decision events (``retry.attempted``)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import grpc
import grpc.aio
import pytest

from resilience import AioClientInterceptor, ClientInterceptor, Policy
from resilience.testing import ECHO_METHODS, AioEchoServer, EchoBehavior, EchoServer

from .test_client_retry import failing

pytestmark = pytest.mark.e2e

UNARY = ECHO_METHODS["unary_unary"]
SERVER_STREAM = ECHO_METHODS["unary_stream"]
FORMS = ["sync", "sync-protected", "aio", "aio-protected"]
SYNC_STYLES = ["call", "with_call", "future"]


class Events:
    """An observer keeping decision events; ``seen`` is set at the first ``retry.attempted``."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, str]]] = []
        self.seen = threading.Event()

    def call_started(self, call: Any) -> None:
        pass

    def call_ended(self, call: Any, outcome: Any) -> None:
        pass

    def event(self, name: str, attributes: Any) -> None:
        self.events.append((name, dict(attributes)))
        if name == "retry.attempted":
            self.seen.set()

    def named(self, name: str) -> list[dict[str, str]]:
        return [attributes for event, attributes in self.events if event == name]


def policy(read: bool = True, **retry: Any) -> Policy:
    section = {"base_delay": 0.001, "max_delay": 0.002, **retry}
    methods = {"/resilience.testing.Echo/*": {"read": read, "retry": section}}
    return Policy.from_dict({"methods": methods})


def sync_channel(form: str, address: str, interceptor: ClientInterceptor) -> grpc.Channel:
    plain = grpc.insecure_channel(address)
    if form.endswith("protected"):
        return interceptor.protect(plain)
    return grpc.intercept_channel(plain, interceptor)


def sync_call(channel: grpc.Channel, style: str, timeout: float = 30) -> Any:
    """One unary call in ``style``: the response, or the status code it failed with."""
    multicallable: Any = channel.unary_unary(UNARY)
    try:
        if style == "call":
            return multicallable(b"hi", timeout=timeout)
        if style == "with_call":
            response, call = multicallable.with_call(b"hi", timeout=timeout)
            assert call.code() is grpc.StatusCode.OK
            return response
        future = multicallable.future(b"hi", timeout=timeout)
        assert isinstance(future, grpc.Future)
        return future.result(timeout=60)
    except grpc.RpcError as error:
        return error.code()


def aio_channel(form: str, address: str, interceptor: AioClientInterceptor) -> grpc.aio.Channel:
    if form.endswith("protected"):
        return interceptor.protect(grpc.aio.insecure_channel(address))
    return grpc.aio.insecure_channel(address, interceptors=interceptor)


async def aio_call(channel: grpc.aio.Channel, timeout: float = 30) -> Any:
    try:
        multicallable: Any = channel.unary_unary(UNARY)
        return await multicallable(b"hi", timeout=timeout)
    except grpc.aio.AioRpcError as error:
        return error.code()


def run(form: str, style: str, behavior: EchoBehavior, chosen: Policy) -> tuple[Any, Any, Events]:
    """One unary call in ``form`` and ``style``: (its response or failure code, the
    interceptor, the events observer)."""
    events = Events()
    if form.startswith("aio"):
        return asyncio.run(_run_aio(form, behavior, chosen, events))
    interceptor = ClientInterceptor(chosen, observers=(events,))
    with EchoServer(behavior=behavior) as server:
        channel = sync_channel(form, server.address, interceptor)
        try:
            return sync_call(channel, style), interceptor, events
        finally:
            channel.close()


async def _run_aio(
    form: str, behavior: EchoBehavior, chosen: Policy, events: Events
) -> tuple[Any, Any, Events]:
    interceptor = AioClientInterceptor(chosen, observers=(events,))
    async with AioEchoServer(behavior=behavior) as server:
        channel = aio_channel(form, server.address, interceptor)
        async with channel:
            return await aio_call(channel), interceptor, events


def breaker_counts(interceptor: Any) -> tuple[int, int]:
    """The method's breaker counts (the aio interceptor form names the method in bytes)."""
    states = interceptor._pipeline.registry._states
    state = states.get(UNARY) or states.get(UNARY.encode())
    counts: tuple[int, int] = state.breaker.counts()
    return counts


def forms_and_styles() -> list[tuple[str, str]]:
    return [(form, style) for form in FORMS for style in SYNC_STYLES if form[:3] != "aio"] + [
        (form, "call") for form in FORMS if form.startswith("aio")
    ]


@pytest.mark.parametrize(("form", "style"), forms_and_styles())
def test_a_read_call_is_retried_until_it_succeeds(form: str, style: str) -> None:
    behavior = failing(2)
    result, interceptor, events = run(form, style, behavior, policy())
    assert result == b"hi"
    assert behavior.calls == 3
    assert breaker_counts(interceptor) == (3, 1)  # the breaker saw every attempt
    attempts = [attributes["attempt"] for attributes in events.named("retry.attempted")]
    assert attempts == ["2", "3"]
    assert events.named("retry.attempted")[0]["method"] == UNARY


@pytest.mark.parametrize(("form", "style"), forms_and_styles())
def test_attempts_are_bounded_and_the_last_status_is_the_call_s(form: str, style: str) -> None:
    behavior = failing(10)
    result, interceptor, _ = run(form, style, behavior, policy(max_attempts=2))
    assert result is grpc.StatusCode.UNAVAILABLE
    assert behavior.calls == 2
    assert breaker_counts(interceptor) == (2, 0)


@pytest.mark.parametrize(("form", "style"), forms_and_styles())
def test_an_empty_budget_stops_retries_and_says_so(form: str, style: str) -> None:
    behavior = failing(1)
    result, _, events = run(form, style, behavior, policy(budget=0, min_retries=0))
    assert result is grpc.StatusCode.UNAVAILABLE
    assert behavior.calls == 1
    assert [a["attempt"] for a in events.named("retry.budget_exhausted")] == ["2"]


@pytest.mark.parametrize(("form", "style"), forms_and_styles())
def test_a_pushback_longer_than_the_time_left_ends_the_call(form: str, style: str) -> None:
    # The server asks for 60 s; the caller has 30 s: no retry, no wait.
    behavior = failing(1, trailing=[("grpc-retry-pushback-ms", "60000")])
    result, _, events = run(form, style, behavior, policy(max_pushback=120))
    assert result is grpc.StatusCode.UNAVAILABLE
    assert behavior.calls == 1
    assert events.named("retry.attempted") == []


@pytest.mark.parametrize("form", FORMS)
def test_a_method_not_marked_read_is_never_retried(form: str) -> None:
    behavior = failing(1)
    result, _, _ = run(form, "future" if form[:3] == "syn" else "call", behavior, policy(False))
    assert result is grpc.StatusCode.UNAVAILABLE
    assert behavior.calls == 1


@pytest.mark.parametrize("form", ["sync", "sync-protected"])
def test_a_response_stream_is_never_retried(form: str) -> None:
    behavior = failing(1)
    interceptor = ClientInterceptor(policy(), observers=())
    with EchoServer(behavior=behavior) as server:
        channel = sync_channel(form, server.address, interceptor)
        try:
            stream: Any = channel.unary_stream(SERVER_STREAM)
            with pytest.raises(grpc.RpcError) as raised:
                list(stream(b"hi", timeout=30))
        finally:
            channel.close()
    error: Any = raised.value
    assert error.code() is grpc.StatusCode.UNAVAILABLE
    assert behavior.calls == 1


@pytest.mark.parametrize("form", ["sync", "sync-protected"])
def test_cancelling_a_future_during_its_backoff_ends_it_cancelled(form: str) -> None:
    # A 60 s pushback (allowed by max_pushback, within the 120 s timeout) holds the retry.
    behavior = failing(5, trailing=[("grpc-retry-pushback-ms", "60000")])
    events = Events()
    interceptor = ClientInterceptor(policy(max_pushback=90), observers=(events,))
    with EchoServer(behavior=behavior) as server:
        channel = sync_channel(form, server.address, interceptor)
        try:
            unary: Any = channel.unary_unary(UNARY)
            future = unary.future(b"hi", timeout=120)
            assert events.seen.wait(30), "the first attempt was never judged retryable"
            assert not future.done()
            assert future.cancel()
            assert future.done()
            assert future.cancelled()
            assert future.code() is grpc.StatusCode.CANCELLED
            with pytest.raises(grpc.FutureCancelledError):
                future.result()
        finally:
            channel.close()
    assert behavior.calls == 1


@pytest.mark.parametrize("form", ["sync", "sync-protected"])
def test_a_future_s_done_callbacks_hear_of_the_last_attempt(form: str) -> None:
    behavior = failing(1)
    interceptor = ClientInterceptor(policy(), observers=())
    heard: list[Any] = []
    done = threading.Event()
    with EchoServer(behavior=behavior) as server:
        channel = sync_channel(form, server.address, interceptor)
        try:
            unary: Any = channel.unary_unary(UNARY)
            future = unary.future(b"hi", timeout=30)

            def callback(ended: Any) -> None:
                heard.append((ended.code(), ended.result()))
                done.set()

            future.add_done_callback(callback)
            assert done.wait(30)
        finally:
            channel.close()
    assert heard == [(grpc.StatusCode.OK, b"hi")]


@pytest.mark.parametrize("form", ["aio", "aio-protected"])
def test_cancelling_an_aio_call_during_its_backoff_stops_the_retries(form: str) -> None:
    behavior = failing(5, trailing=[("grpc-retry-pushback-ms", "60000")])

    async def scenario() -> None:
        events = Events()
        interceptor = AioClientInterceptor(policy(max_pushback=90), observers=(events,))
        async with AioEchoServer(behavior=behavior) as server:
            channel = aio_channel(form, server.address, interceptor)
            async with channel:
                unary: Any = channel.unary_unary(UNARY)
                call = unary(b"hi", timeout=120)
                waiting = asyncio.ensure_future(asyncio.to_thread(events.seen.wait, 30))
                assert await waiting, "the first attempt was never judged retryable"
                call.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await call

    asyncio.run(scenario())
    assert behavior.calls == 1


def test_a_future_whose_first_attempt_ended_at_once_does_not_hold_the_caller() -> None:
    # The interceptor cannot tell a .future() call whose attempt is already over from a
    # blocking call: it must return at once (the retry waits on a timer), never wait the
    # 60 s pushback in the caller's thread.
    from resilience.interceptors.client import _CallDetails

    behavior = failing(5, trailing=[("grpc-retry-pushback-ms", "60000")])
    interceptor = ClientInterceptor(policy(max_pushback=90), observers=())
    with EchoServer(behavior=behavior) as server, grpc.insecure_channel(server.address) as plain:
        unary: Any = plain.unary_unary(UNARY)
        ended = unary.future(b"hi", timeout=120)
        assert ended.exception(timeout=30) is not None  # over, UNAVAILABLE
        details = _CallDetails(UNARY, 120.0, None, None, None, None)
        future = interceptor.intercept_unary_unary(lambda *_: ended, details, b"hi")
        assert not future.done()  # waiting for its retry, not in this thread
        assert future.cancel()
        assert future.code() is grpc.StatusCode.CANCELLED
    assert behavior.calls == 1
