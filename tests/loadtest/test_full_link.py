"""The whole chain with the library's interceptors: record at service A, replay colored, and
the color reaches A's handler and the downstream hop B; a fault hook aborts only colored calls."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import grpc
import pytest

from loadtest.echo_server import AioEcho, Echo, RunningServer, SyncEcho
from resilience.chaos import FaultInjector, FaultRule, aio_fault_hook, fault_hook
from resilience.context import current_color
from resilience.interceptors import (
    AioClientInterceptor,
    AioServerInterceptor,
    ClientInterceptor,
    ServerInterceptor,
)
from resilience.recording.format import CallSpec
from resilience.recording.hook import recording_hook
from resilience.recording.recorder import TrafficRecorder
from resilience.tools.loadtest._core import LoadSettings
from resilience.tools.loadtest.flow import ReplaySource
from resilience.tools.loadtest.run import run_load

RELAY = "/front.Front/Relay"


class Front:
    """Service A: ``Relay`` forwards its request to B's Say and remembers the color it ran in."""

    def __init__(self, downstream: str, aio: bool) -> None:
        self.colors: list[str | None] = []
        self.lock = threading.Lock()
        self.downstream, self.aio = downstream, aio

    def handler(self) -> grpc.GenericRpcHandler:
        if self.aio:

            async def relay_aio(request: bytes, context: Any) -> bytes:
                with self.lock:
                    self.colors.append(current_color())
                async with grpc.aio.insecure_channel(
                    self.downstream, interceptors=AioClientInterceptor()
                ) as ch:
                    generic: Any = ch
                    answer: bytes = await generic.unary_unary("/echo.Echo/Say")(request, timeout=5)
                return answer

            behavior: Any = relay_aio
        else:

            def relay(request: bytes, context: Any) -> bytes:
                with self.lock:
                    self.colors.append(current_color())
                channel = grpc.intercept_channel(
                    grpc.insecure_channel(self.downstream), ClientInterceptor()
                )
                with channel:
                    generic: Any = channel
                    answer: bytes = generic.unary_unary("/echo.Echo/Say")(request, timeout=5)
                return answer

            behavior = relay
        return grpc.method_handlers_generic_handler(
            "front.Front", {"Relay": grpc.unary_unary_rpc_method_handler(behavior)}
        )


def serve_chain(
    aio: bool, hooks: list[Any], downstream: Echo
) -> tuple[RunningServer, RunningServer, Front]:
    interceptor: Any = AioServerInterceptor if aio else ServerInterceptor
    b = RunningServer(aio, [(AioEcho if aio else SyncEcho)(downstream)], [interceptor()])
    b.__enter__()
    front = Front(b.target, aio)
    a = RunningServer(aio, [front.handler()], [interceptor(hooks=hooks)])
    a.__enter__()
    return a, b, front


@pytest.mark.parametrize("aio", [False, True], ids=["sync", "aio"])
def test_recorded_calls_replayed_carry_the_color_two_hops_deep(tmp_path: Path, aio: bool) -> None:
    path = tmp_path / "traffic.jsonl"
    recorder = TrafficRecorder(path, sample_rate=1.0)
    downstream = Echo()
    a, b, front = serve_chain(aio, [recording_hook(recorder)], downstream)
    try:
        with grpc.insecure_channel(a.target) as channel:
            generic: Any = channel
            for word in (b"one", b"two"):
                generic.unary_unary(RELAY)(word, metadata=(("x-user", "ann"),), timeout=5)
        recorder.close()
        assert front.colors == [None, None]
        source = ReplaySource.load([path])
        settings = LoadSettings(rate=100, duration=0.02, concurrency=1)
        report = run_load(a.target, source, settings, engine="aio" if aio else "sync").report()
    finally:
        a.__exit__()
        b.__exit__()
    assert report.codes == {"OK": 2}
    assert front.colors == [None, None, "loadtest", "loadtest"]
    replayed = downstream.calls[2:]
    assert [(s.requests, s.color) for s in replayed] == [
        ((b"one",), "loadtest"),
        ((b"two",), "loadtest"),
    ]


@pytest.mark.parametrize("aio", [False, True], ids=["sync", "aio"])
def test_the_fault_hook_in_the_interceptor_aborts_only_colored_calls(aio: bool) -> None:
    rule = FaultRule(method="/front.Front/*", color="loadtest", abort=grpc.StatusCode.UNAVAILABLE)
    injector = FaultInjector([rule], enabled=True, allowed_colors=["loadtest"])
    hook = aio_fault_hook(injector) if aio else fault_hook(injector)
    downstream = Echo()
    a, b, front = serve_chain(aio, [hook], downstream)
    try:
        colored = LoadSettings(rate=100, duration=0.05, concurrency=2)
        plain = LoadSettings(rate=100, duration=0.05, concurrency=2, color=None)
        calls = ReplaySource([CallSpec(RELAY, (b"x",))])
        engine: Any = "aio" if aio else "sync"
        hit = run_load(a.target, calls, colored, engine=engine).report()
        miss = run_load(a.target, calls, plain, engine=engine).report()
    finally:
        a.__exit__()
        b.__exit__()
    assert hit.codes == {"UNAVAILABLE": 5}
    assert hit.reject_reasons == {"fault": 5}
    assert miss.codes == {"OK": 5}
    assert front.colors == [None] * 5


@pytest.mark.parametrize("aio", [False, True], ids=["sync", "aio"])
def test_the_recording_hook_records_request_streams_through_the_interceptor(
    tmp_path: Path, aio: bool
) -> None:
    path = tmp_path / "traffic.jsonl"
    recorder = TrafficRecorder(path, sample_rate=1.0)
    interceptor: Any = AioServerInterceptor if aio else ServerInterceptor
    echo = Echo()
    handler = (AioEcho if aio else SyncEcho)(echo)
    with RunningServer(aio, [handler], [interceptor(hooks=[recording_hook(recorder)])]) as server:
        with grpc.insecure_channel(server.target) as channel:
            generic: Any = channel
            answer = generic.stream_unary("/echo.Echo/Collect")(iter([b"a", b"b"]), timeout=5)
        assert answer == b"a|b"
    recorder.close()
    (call,) = ReplaySource.load([path]).calls
    assert (call.method, call.requests, call.shape) == (
        "/echo.Echo/Collect",
        (b"a", b"b"),
        "stream_unary",
    )
