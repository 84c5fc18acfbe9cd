"""Both engines against real servers: the report agrees with what the server counted."""

from __future__ import annotations

import asyncio

import pytest

from conformance.support import closed_address
from loadtest.echo_server import Echo, echo_server
from resilience.tools.loadtest._core import LoadSettings
from resilience.tools.loadtest.aio_engine import aio_run_calls
from resilience.tools.loadtest.engine import run_calls
from resilience.tools.loadtest.flow import CallSource, Flow, WeightedPicker
from resilience.tools.loadtest.report import Results

FLOW = Flow.from_dict(
    {
        "call": [
            {"method": "/echo.Echo/Say", "request": "hi", "weight": 2},
            {"method": "/echo.Echo/Collect", "requests": ["a", "b"]},
            {"method": "/echo.Echo/Repeat", "request": "r", "response_stream": True},
            {"method": "/echo.Echo/Fail", "request": "UNAVAILABLE"},
        ]
    }
)


def run(engine: str, target: str, source: CallSource, settings: LoadSettings) -> Results:
    if engine == "aio":
        return asyncio.run(aio_run_calls(target, source, settings))
    return run_calls(target, source, settings)


@pytest.mark.parametrize("server_aio", [False, True], ids=["sync-server", "aio-server"])
@pytest.mark.parametrize("engine", ["sync", "aio"])
def test_report_numbers_agree_with_the_servers_count(engine: str, server_aio: bool) -> None:
    import random

    settings = LoadSettings(rate=400, duration=0.5, ramp=0.2, concurrency=8)
    echo = Echo()
    with echo_server(server_aio, echo) as server:
        results = run(engine, server.target, WeightedPicker(FLOW, rng=random.Random(1)), settings)
    report = results.report()
    assert report.calls == settings.total_calls == sum(echo.counts.values())
    failed = echo.counts["/echo.Echo/Fail"]
    assert report.codes == {"OK": report.calls - failed, "UNAVAILABLE": failed}
    assert report.reject_reasons == {"shed": failed}
    assert report.errors == failed
    assert 0 < report.p50 <= report.p90 <= report.p99 <= report.max
    assert {seen.color for seen in echo.calls} == {"loadtest"}


@pytest.mark.parametrize("engine", ["sync", "aio"])
def test_an_unreachable_target_is_reported_not_raised(engine: str) -> None:
    settings = LoadSettings(rate=50, duration=0.1, timeout=1.0, concurrency=2)
    flow = Flow.from_dict({"call": [{"method": "/echo.Echo/Say", "request": "x"}]})
    report = run(engine, closed_address(), WeightedPicker(flow), settings).report()
    assert report.codes == {"UNAVAILABLE": settings.total_calls}
