"""The channels are real gRPC channels: they compose with ``grpc.intercept_channel``, offer
``with_call`` and ``future``, validate their configuration, and report to observers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import grpc
import grpc.aio
import pytest

from resilience.algorithms import AdaptiveRetryWindow
from resilience.events import CallInfo, CallOutcome
from resilience.failover import AioDualCenterChannel, DualCenterChannel
from resilience.interceptors import ClientInterceptor
from resilience.testing import ManualClock

from .centers import READ, READ_STREAM, UPLOAD
from .conftest import READS, Centers, ClientFactory


class Events:
    """An Observer that keeps the failover events it receives."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.attributes: list[Mapping[str, str]] = []

    def call_started(self, call: CallInfo) -> None: ...

    def call_ended(self, call: CallInfo, outcome: CallOutcome) -> None: ...

    def event(self, name: str, attributes: Mapping[str, str]) -> None:
        self.names.append(name)
        self.attributes.append(attributes)


def _window() -> AdaptiveRetryWindow:
    return AdaptiveRetryWindow(initial=100, clock=ManualClock())


@pytest.fixture
def channel(centers: Centers) -> Any:
    centers.local.fail_every = 1
    with DualCenterChannel(
        grpc.insecure_channel(centers.local_address),
        grpc.insecure_channel(centers.remote_address),
        policy=READS,
        window=_window(),
    ) as channel:
        yield channel


def test_it_is_a_channel_that_intercept_channel_wraps(channel: DualCenterChannel) -> None:
    assert isinstance(channel, grpc.Channel)
    seen: list[str] = []

    class Count(grpc.UnaryUnaryClientInterceptor):
        def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
            seen.append(details.method)
            return continuation(details, request)

    intercepted = grpc.intercept_channel(channel, Count())
    read: Any = intercepted.unary_unary(READ)
    assert read(b"x") == b"remote:x"
    assert seen == [READ]


def test_with_call_returns_the_answering_attempt(channel: DualCenterChannel) -> None:
    response, call = channel.unary_unary(READ).with_call(b"x", timeout=5)
    assert (response, call.code()) == (b"remote:x", grpc.StatusCode.OK)


def test_future_fails_over_without_blocking(channel: DualCenterChannel) -> None:
    done = threading.Event()
    calls: list[Any] = []
    future = channel.unary_unary(READ).future(b"x", timeout=5)

    def on_done(finished: Any) -> None:
        calls.append(finished)
        done.set()

    future.add_done_callback(on_done)
    assert future.result(timeout=5) == b"remote:x"
    assert done.wait(5)
    assert calls == [future]
    assert (future.code(), future.done(), future.cancelled()) == (grpc.StatusCode.OK, True, False)
    assert future.exception() is None


@pytest.mark.parametrize("timeout", [None, 30.0])
def test_time_remaining_is_none_without_a_timeout(
    channel: DualCenterChannel, timeout: float | None
) -> None:
    """As gRPC's own calls: None when the caller set no timeout (it raised TypeError)."""
    stream = channel.unary_stream(READ_STREAM)(b"x", timeout=timeout)
    future = channel.unary_unary(READ).future(b"x", timeout=timeout)
    _, call = channel.unary_unary(READ).with_call(b"x", timeout=timeout)
    try:
        for remaining in (stream.time_remaining(), future.time_remaining()):
            if timeout is None:
                assert remaining is None
            else:
                assert remaining is not None
                assert 0 <= remaining <= timeout
        future.result(timeout=5)
        list(stream)
    finally:
        stream.cancel()
        future.cancel()
    assert call.code() == grpc.StatusCode.OK


def test_observers_and_gauges_report_each_decision(centers: Centers) -> None:
    centers.local.fail_every = 1
    events = Events()
    channel = DualCenterChannel(
        grpc.insecure_channel(centers.local_address),
        grpc.insecure_channel(centers.remote_address),
        policy=READS,
        window=AdaptiveRetryWindow(initial=1, clock=ManualClock()),
        target="dc-east",
        observers=[events],
    )
    with channel:
        channel.unary_unary(READ)(b"x")
        with pytest.raises(grpc.RpcError):
            channel.unary_unary(READ)(b"y")  # the window of 1 is used up
        channel.disable_failover()
        with pytest.raises(grpc.RpcError):
            channel.unary_unary(READ)(b"z")  # switched off: not even attempted
    expected = ["attempted", "admitted", "succeeded", "attempted", "refused"]
    assert events.names == [f"failover.{name}" for name in expected]
    assert events.attributes[0] == {"target": "dc-east", "method": READ}
    readings = {r.name: r.value for r in channel.gauge_readings()}
    assert readings["failover.window"] == 1
    assert (readings["failover.admitted"], readings["failover.refused"]) == (1, 1)
    assert all(r.attributes == {"target": "dc-east"} for r in channel.gauge_readings())


def test_a_failing_observer_never_fails_the_call(channel: DualCenterChannel) -> None:
    class Broken(Events):
        def event(self, name: str, attributes: Mapping[str, str]) -> None:
            raise RuntimeError("observer bug")

    channel._core._observers = (Broken(),)
    assert channel.unary_unary(READ)(b"x") == b"remote:x"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"failover_codes": [grpc.StatusCode.OK]}, "must not contain StatusCode.OK"),
        ({"failover_codes": []}, "failover_codes must be non-empty"),
        ({"failover_codes": ["UNAVAILABLE"]}, "grpc.StatusCode values"),
        ({"target": ""}, "target must be a non-empty label"),
        ({"max_replay_messages": -1}, "max_replay_messages must be an int >= 0"),
        ({"max_replay_bytes": 1.5}, "max_replay_bytes must be an int >= 0"),
    ],
)
def test_bad_configuration_names_the_parameter(options: dict[str, Any], message: str) -> None:
    local, remote = grpc.insecure_channel("127.0.0.1:1"), grpc.insecure_channel("127.0.0.1:1")
    with pytest.raises(ValueError, match=message):
        DualCenterChannel(local, remote, window=_window(), **options)


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda: DualCenterChannel(object(), object()), "grpc.Channel"),  # type: ignore[arg-type]
        (lambda: AioDualCenterChannel(object(), object()), "grpc.aio"),  # type: ignore[arg-type]
    ],
)
def test_channels_of_the_wrong_kind_are_refused(make: Callable[[], Any], kind: str) -> None:
    with pytest.raises(TypeError, match=f"local must be a {kind}"):
        make()


def test_every_flavour_is_a_grpc_channel(centers: Centers, make_client: ClientFactory) -> None:
    client = make_client(centers.local_address, centers.remote_address, policy=READS)
    assert isinstance(client.channel, (grpc.Channel, grpc.aio.Channel))
    assert "remote" in repr(client.channel)


def test_the_client_interceptor_wraps_it_for_every_shape(channel: DualCenterChannel) -> None:
    wrapped = grpc.intercept_channel(channel, ClientInterceptor(READS))
    stream: Any = wrapped.unary_stream(READ_STREAM)
    upload: Any = wrapped.stream_unary(UPLOAD)
    assert list(stream(b"s", timeout=5)) == [b"remote:s:0", b"remote:s:1", b"remote:s:2"]
    assert upload(iter([b"a", b"b"]), timeout=5) == b"remote:a,b"


def test_stream_done_callbacks_run_once_for_the_answering_attempt(
    channel: DualCenterChannel,
) -> None:
    finished = threading.Event()
    codes: list[grpc.StatusCode] = []

    def on_done(call: Any) -> None:
        codes.append(call.code())
        finished.set()

    call = channel.unary_stream(READ_STREAM)(b"s", timeout=5)
    call.add_done_callback(on_done)
    assert len(list(call)) == 3
    assert finished.wait(5)
    assert codes == [grpc.StatusCode.OK]
    assert call.done()
