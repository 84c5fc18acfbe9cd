"""The policy's ``bulkhead`` section on real echo servers, sync and aio, interceptor and
``protect()`` forms: at most so many calls at once, a bounded queue, RESOURCE_EXHAUSTED with
the library's rejection details, places freed by a call's end (cancelled, past its deadline,
a stream's end), on the server side and the client side."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import grpc
import pytest

from resilience._base.keys import PUSHBACK, REJECT
from resilience.policy import Policy
from resilience.testing import ECHO_METHODS, EchoBehavior

from .harness import (
    GATE_SECONDS,
    KINDS,
    AioHarness,
    Client,
    Failure,
    Gate,
    Harness,
    Recorder,
    Server,
)
from .test_error_details import details_of, rejected_status

pytestmark = pytest.mark.e2e

UNARY = ECHO_METHODS["unary_unary"]
PATTERN = "/resilience.testing.Echo/*"


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Poll ``condition`` until it holds or ``seconds`` pass; its last value (a test asserts
    the value, never the time it took)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() >= deadline:
            return condition()
        time.sleep(0.01)
    return True


def bulkhead(**section: Any) -> Policy:
    return Policy.from_dict({"methods": {PATTERN: {"breaker": False, "bulkhead": section}}})


def gauge(interceptor: Any, name: str) -> float:
    """The interceptor's ``bulkhead.<name>`` reading for the unary method (0 when absent)."""
    for reading in interceptor.gauge_readings():
        if reading.name == f"bulkhead.{name}" and reading.attributes["method"] == UNARY:
            return float(reading.value)
    return 0.0


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=4) as executor:
        yield executor


def in_background(pool: ThreadPoolExecutor, client: Client, **kwargs: Any) -> Future[Any]:
    """A unary call made from another thread (its result: responses or a Failure)."""
    return pool.submit(lambda: client.call(**{"timeout": 30.0, **kwargs}))


def held_server(
    harness: Harness, gate: Gate, pool: ThreadPoolExecutor, recorder: Recorder, **section: Any
) -> tuple[Server, Client, Future[Any]]:
    """A server with ``bulkhead`` on the server side, and a first call held in its handler."""
    server = harness.server(
        behavior=gate.behavior(harness.aio),
        policy=bulkhead(side="server", **section),
        observers=[recorder],
    )
    client = harness.client(server.address)
    first = in_background(pool, client)
    assert wait_until(lambda: gate.entered == 1)
    return server, client, first


def test_a_full_server_bulkhead_refuses_with_the_rejection_details(
    harness: Harness, pool: ThreadPoolExecutor
) -> None:
    gate, recorder = Gate(), Recorder()
    server, client, first = held_server(harness, gate, pool, recorder, max_concurrent=1)
    error, status = rejected_status(harness, client)
    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    trailing = dict(error.trailing_metadata() or ())
    assert trailing[REJECT] == "bulkhead"
    assert PUSHBACK not in trailing
    details = details_of(status)
    info = details["ErrorInfo"]
    assert (info.reason, info.domain) == ("BULKHEAD_FULL", "resilience.grpc")
    assert dict(info.metadata) == {
        "method": UNARY,
        "side": "server",
        "bulkheadKey": PATTERN,
        "maxConcurrent": "1",
        "maxQueue": "0",
    }
    assert details["RetryInfo"].retry_delay.ToMilliseconds() == 1000  # max_wait's default
    assert gate.entered == 1  # the refused call never reached the handler
    gate.open()
    assert first.result(30) == [b"ping"]
    assert wait_until(lambda: gauge(server.interceptor, "active") == 0)
    assert client.call() == [b"ping"]  # the place was freed
    reasons = [outcome.reject_reason for _, outcome in recorder.wait_ended(3)]
    assert sorted(map(str, reasons)) == ["None", "None", "bulkhead"]


def test_a_queued_call_runs_once_a_place_frees(harness: Harness, pool: ThreadPoolExecutor) -> None:
    gate, recorder = Gate(), Recorder()
    server, client, first = held_server(
        harness, gate, pool, recorder, max_concurrent=1, max_queue=1, max_wait=30
    )
    second = in_background(pool, client)
    assert wait_until(lambda: gauge(server.interceptor, "queued") == 1)
    third = client.call()  # the queue is full
    assert isinstance(third, Failure)
    assert third.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    gate.open()
    assert first.result(30) == [b"ping"]
    assert second.result(30) == [b"ping"]
    assert gate.entered == 2
    assert wait_until(lambda: gauge(server.interceptor, "active") == 0)


def start_cancellable(harness: Harness, client: Client) -> Callable[[], object]:
    """Start a unary call that the test cancels later: the function that cancels it."""
    if not harness.aio:
        future = client.channel.unary_unary(UNARY).future(b"ping", timeout=30)
        return lambda: future.cancel()
    assert isinstance(harness, AioHarness)

    async def start() -> Any:
        return client.channel.unary_unary(UNARY)(b"ping", timeout=30)

    call = harness.run(start())
    return lambda: harness.loop.call_soon_threadsafe(call.cancel)


def test_a_server_call_cancelled_while_queued_leaves_the_queue(
    harness: Harness, pool: ThreadPoolExecutor
) -> None:
    gate, recorder = Gate(), Recorder()
    server, client, first = held_server(
        harness, gate, pool, recorder, max_concurrent=1, max_queue=1, max_wait=30
    )
    cancel = start_cancellable(harness, client)
    assert wait_until(lambda: gauge(server.interceptor, "queued") == 1)
    cancel()
    assert wait_until(lambda: gauge(server.interceptor, "queued") == 0)
    ended = recorder.wait_ended(1)
    assert [(o.code, o.reject_reason) for _, o in ended] == [(grpc.StatusCode.CANCELLED, None)]
    gate.open()
    assert first.result(30) == [b"ping"]
    assert wait_until(lambda: gauge(server.interceptor, "active") == 0)
    assert client.call() == [b"ping"]
    assert gate.entered == 2  # the cancelled call never ran


def test_a_server_call_whose_deadline_passes_while_queued_leaves_the_queue(
    harness: Harness, pool: ThreadPoolExecutor
) -> None:
    gate, recorder = Gate(), Recorder()
    server, client, first = held_server(
        harness, gate, pool, recorder, max_concurrent=1, max_queue=1, max_wait=30
    )
    late = client.call(timeout=0.5)
    assert isinstance(late, Failure)
    assert late.code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert wait_until(lambda: gauge(server.interceptor, "queued") == 0)
    ended = recorder.wait_ended(1)
    assert [o.reject_reason for _, o in ended] == [None]
    assert ended[0][1].code in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED)
    gate.open()
    assert first.result(30) == [b"ping"]
    assert wait_until(lambda: gauge(server.interceptor, "active") == 0)
    assert gate.entered == 1


def open_stream(harness: Harness, client: Client) -> Callable[[], object]:
    """Start a server stream, read its first response, and leave it open: the function that
    cancels it."""
    method = ECHO_METHODS["unary_stream"]
    if not harness.aio:
        stream = client.channel.unary_stream(method)(b"ping", timeout=30)
        assert next(stream) == b"ping"
        return lambda: stream.cancel()
    assert isinstance(harness, AioHarness)

    async def start() -> Any:
        call = client.channel.unary_stream(method)(b"ping", timeout=30)
        assert await call.read() == b"ping"
        return call

    call = harness.run(start())
    return lambda: harness.loop.call_soon_threadsafe(call.cancel)


def test_a_stream_holds_its_place_until_it_ends(harness: Harness) -> None:
    server = harness.server(
        behavior=EchoBehavior(stream_items=2, stream_interval=GATE_SECONDS),
        policy=bulkhead(side="server", max_concurrent=1),
    )
    client = harness.client(server.address)
    cancel = open_stream(harness, client)
    refused = client.call()  # the stream answered once and still holds the place
    assert isinstance(refused, Failure)
    assert refused.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    cancel()
    assert wait_until(lambda: gauge(server.interceptor, "active") == 0)
    assert client.call() == [b"ping"]


def held_client(
    harness: Harness, gate: Gate, pool: ThreadPoolExecutor, recorder: Recorder, **section: Any
) -> tuple[Server, Client, Future[Any]]:
    """A plain server and a client with ``bulkhead`` on the client side, its first call held
    in the server's handler."""
    server = harness.server(behavior=gate.behavior(harness.aio))
    client = harness.client(
        server.address, policy=bulkhead(side="client", **section), observers=[recorder]
    )
    first = in_background(pool, client)
    assert wait_until(lambda: gate.entered == 1)
    return server, client, first


def test_a_full_client_bulkhead_refuses_without_sending(
    harness: Harness, pool: ThreadPoolExecutor
) -> None:
    gate, recorder = Gate(), Recorder()
    server, client, first = held_client(harness, gate, pool, recorder, max_concurrent=1)
    error, status = rejected_status(harness, client)
    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert dict(error.trailing_metadata() or ())[REJECT] == "bulkhead"
    info = details_of(status)["ErrorInfo"]
    assert (info.reason, info.metadata["side"]) == ("BULKHEAD_FULL", "client")
    gate.open()
    assert first.result(30) == [b"ping"]
    assert server.behavior.calls == 1  # the refused call never left the client
    assert wait_until(lambda: gauge(client.interceptor, "active") == 0)
    assert client.call() == [b"ping"]
    reasons = [outcome.reject_reason for _, outcome in recorder.wait_ended(3)]
    assert sorted(map(str, reasons)) == ["None", "None", "bulkhead"]


def test_a_client_call_waits_in_the_queue_then_is_sent(
    harness: Harness, pool: ThreadPoolExecutor
) -> None:
    gate, recorder = Gate(), Recorder()
    _, client, first = held_client(
        harness, gate, pool, recorder, max_concurrent=1, max_queue=1, max_wait=30
    )
    second = in_background(pool, client)
    assert wait_until(lambda: gauge(client.interceptor, "queued") == 1)
    assert gate.entered == 1  # queued in the client, not sent
    gate.open()
    assert first.result(30) == [b"ping"]
    assert second.result(30) == [b"ping"]
    assert wait_until(lambda: gauge(client.interceptor, "active") == 0)


def test_a_client_wait_never_outlives_the_call_timeout(
    harness: Harness, pool: ThreadPoolExecutor
) -> None:
    gate, recorder = Gate(), Recorder()
    _, client, first = held_client(
        harness, gate, pool, recorder, max_concurrent=1, max_queue=1, max_wait=60
    )
    began = time.monotonic()
    late = client.call(timeout=0.5)
    waited = time.monotonic() - began
    assert isinstance(late, Failure)
    assert late.code is grpc.StatusCode.DEADLINE_EXCEEDED  # at its timeout, as gRPC ends it
    assert late.trailing[REJECT] == "bulkhead"  # never sent: the bulkhead held it
    assert 0.5 <= waited < 30  # not max_wait's 60 s
    assert gauge(client.interceptor, "queued") == 0
    gate.open()
    assert first.result(30) == [b"ping"]
    assert wait_until(lambda: gauge(client.interceptor, "active") == 0)
    assert gate.entered == 1  # it never took a place afterwards
    ended = [(o.code, o.reject_reason) for _, o in recorder.wait_ended(2)]
    assert sorted(ended, key=str) == sorted(
        [(grpc.StatusCode.OK, None), (grpc.StatusCode.DEADLINE_EXCEEDED, "bulkhead")], key=str
    )


def test_a_client_call_refused_by_a_full_queue_is_resource_exhausted_whatever_its_timeout(
    harness: Harness, pool: ThreadPoolExecutor
) -> None:
    gate, recorder = Gate(), Recorder()
    _, client, first = held_client(harness, gate, pool, recorder, max_concurrent=1, max_wait=60)
    refused = client.call(timeout=0.5)  # no queue: refused at once, not at its timeout
    assert isinstance(refused, Failure)
    assert (refused.code, refused.trailing[REJECT]) == (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "bulkhead",
    )
    gate.open()
    assert first.result(30) == [b"ping"]


AIO_KINDS = [kind for kind in KINDS if kind.startswith("aio")]
"""The harnesses of the next test. It has no sync cases: a sync client call waits for its
place in the caller's own thread, before any future exists, so nothing can cancel it there."""


@pytest.mark.parametrize("harness", AIO_KINDS, indirect=True)
def test_an_aio_client_call_cancelled_while_queued_leaves_the_queue(
    harness: Harness, pool: ThreadPoolExecutor
) -> None:
    gate, recorder = Gate(), Recorder()
    _, client, first = held_client(
        harness, gate, pool, recorder, max_concurrent=1, max_queue=1, max_wait=30
    )
    cancel = start_cancellable(harness, client)
    assert wait_until(lambda: gauge(client.interceptor, "queued") == 1)
    cancel()
    assert wait_until(lambda: gauge(client.interceptor, "queued") == 0)
    ended = recorder.wait_ended(1)
    assert [(o.code, o.reject_reason) for _, o in ended] == [(grpc.StatusCode.CANCELLED, None)]
    gate.open()
    assert first.result(30) == [b"ping"]
    assert wait_until(lambda: gauge(client.interceptor, "active") == 0)
    assert client.call() == [b"ping"]
    assert gate.entered == 2


def test_a_reload_that_changes_the_bulkhead_keeps_the_calls_it_holds(
    harness: Harness, pool: ThreadPoolExecutor
) -> None:
    gate, recorder = Gate(), Recorder()
    server, client, first = held_server(harness, gate, pool, recorder, max_concurrent=1)
    server.interceptor.update_policy(bulkhead(side="server", max_concurrent=2))
    second = in_background(pool, client)
    assert wait_until(lambda: gate.entered == 2)
    assert gauge(server.interceptor, "active") == 2  # the call held before still counts
    third = client.call()  # two calls run: the new limit holds across the reload
    assert isinstance(third, Failure)
    assert third.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert gate.entered == 2
    gate.open()
    assert first.result(30) == [b"ping"]
    assert second.result(30) == [b"ping"]
    assert wait_until(lambda: gauge(server.interceptor, "active") == 0)  # each freed once
    assert harness.concurrently(client, ["unary_unary"] * 2) == [[b"ping"], [b"ping"]]
    assert gauge(server.interceptor, "active") == 0
