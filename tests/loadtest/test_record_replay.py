"""Record served calls, replay them colored against another server: the same calls arrive."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc
import pytest

from loadtest.echo_server import Echo, echo_server
from resilience.recording.hook import recording_hook
from resilience.recording.recorder import TrafficRecorder
from resilience.tools.loadtest._core import LoadSettings
from resilience.tools.loadtest.aio_engine import aio_run_calls
from resilience.tools.loadtest.engine import run_calls
from resilience.tools.loadtest.flow import ReplaySource

ORIGINAL = [
    ("/echo.Echo/Say", b"first", (("authorization", "Bearer t0ken"), ("x-user", "alice"))),
    ("/echo.Echo/Say", b"second", (("cookie", "id=c00kie"), ("x-user", "bob"))),
    ("/echo.Echo/Collect", [b"s1", b"s2"], (("x-user", "carol"),)),
]


def record_traffic(path: Path, aio: bool) -> None:
    """Serve the original calls through a server whose pipeline records every call."""
    recorder = TrafficRecorder(path, sample_rate=1.0)
    record = recording_hook(recorder)
    pre: Any = record
    if aio:

        async def pre_aio(method: str, metadata: Any, request: Any, context: Any) -> Any:
            return record(method, metadata, request, context)

        pre = pre_aio
    with echo_server(aio, Echo(), pre) as server, grpc.insecure_channel(server.target) as ch:
        generic: Any = ch
        for method, request, metadata in ORIGINAL:
            if isinstance(request, list):
                generic.stream_unary(method)(iter(request), metadata=metadata, timeout=5)
            else:
                generic.unary_unary(method)(request, metadata=metadata, timeout=5)
    recorder.close()


@pytest.mark.parametrize("server_aio", [False, True], ids=["sync-server", "aio-server"])
@pytest.mark.parametrize("engine", ["sync", "aio"])
def test_replay_reproduces_the_recorded_calls_colored(
    tmp_path: Path, engine: str, server_aio: bool
) -> None:
    path = tmp_path / "traffic.jsonl"
    record_traffic(path, server_aio)
    assert "t0ken" not in path.read_text()
    assert "c00kie" not in path.read_text()
    source = ReplaySource.load([path])
    settings = LoadSettings(rate=100, duration=0.03, concurrency=1)
    echo = Echo()
    with echo_server(server_aio, echo) as server:
        if engine == "aio":
            report = asyncio.run(aio_run_calls(server.target, source, settings)).report()
        else:
            report = run_calls(server.target, source, settings).report()
    assert report.codes == {"OK": 3}
    replayed = [(s.method, s.requests, s.metadata.get("x-user"), s.color) for s in echo.calls]
    assert replayed == [
        ("/echo.Echo/Say", (b"first",), "alice", "loadtest"),
        ("/echo.Echo/Say", (b"second",), "bob", "loadtest"),
        ("/echo.Echo/Collect", (b"s1", b"s2"), "carol", "loadtest"),
    ]
    assert not any("authorization" in s.metadata or "cookie" in s.metadata for s in echo.calls)
