"""Faults applied in a real server's pipeline (sync and aio): status, trailer, color, delay."""

from __future__ import annotations

import time

import grpc
import pytest

from loadtest.echo_server import Echo, echo_server
from resilience._base.keys import REJECT
from resilience.chaos import FaultInjector, FaultRule

from .pipeline import COLORED, hook, say


@pytest.mark.parametrize("aio", [False, True], ids=["sync", "aio"])
def test_colored_calls_are_aborted_with_status_and_reject_trailer(aio: bool) -> None:
    rule = FaultRule(color="loadtest", abort=grpc.StatusCode.UNAVAILABLE, message="chaos says no")
    injector = FaultInjector([rule], enabled=True, allowed_colors=["loadtest"])
    echo = Echo()
    with echo_server(aio, echo, hook(aio, injector)) as server:
        code, details, trailers = say(server.target, COLORED)
        plain_code, _, _ = say(server.target)
    assert (code, details) == (grpc.StatusCode.UNAVAILABLE, "chaos says no")
    assert (REJECT, "fault") in tuple(trailers)
    assert plain_code is grpc.StatusCode.OK
    assert [seen.color for seen in echo.calls] == [None]  # the aborted call never ran


@pytest.mark.parametrize("aio", [False, True], ids=["sync", "aio"])
def test_a_delay_fault_slows_the_call_down(aio: bool) -> None:
    injector = FaultInjector([FaultRule(method="/echo.Echo/*", delay=0.05)], enabled=True)
    with echo_server(aio, Echo(), hook(aio, injector)) as server:
        began = time.monotonic()
        code, _, _ = say(server.target)
        elapsed = time.monotonic() - began
    assert code is grpc.StatusCode.OK
    assert elapsed >= 0.05


@pytest.mark.parametrize("aio", [False, True], ids=["sync", "aio"])
def test_metadata_from_a_caller_cannot_switch_faults_on(aio: bool) -> None:
    injector = FaultInjector(
        [FaultRule(color="loadtest", abort=grpc.StatusCode.INTERNAL)], allowed_colors=["loadtest"]
    )
    sneaky = (*COLORED, ("x-resilience-fault", "on"), ("x-resilience-chaos", "enable"))
    with echo_server(aio, Echo(), hook(aio, injector)) as server:
        code, _, _ = say(server.target, sneaky)
    assert code is grpc.StatusCode.OK
