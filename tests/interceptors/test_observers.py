"""Observers hear of every call on both sides: who called (color, tier), how it ended, the
reject reason of a local refusal, and the exception that escaped a handler."""

from __future__ import annotations

import logging

import grpc
import pytest

from resilience.context import traffic_color
from resilience.events import CallInfo
from resilience.policy import Policy
from resilience.testing import ECHO_METHODS, EchoBehavior, ManualClock

from .harness import SHAPES, Failure, Harness, Recorder, masked_by_grpc_aio

UNARY = ECHO_METHODS["unary_unary"]


def test_both_sides_report_start_and_end_with_color_and_tier(harness: Harness) -> None:
    client_seen, server_seen = Recorder(), Recorder()
    server = harness.server(observers=[server_seen])
    client = harness.client(server.address, observers=[client_seen])

    with traffic_color("blue"):
        client.call()

    assert client_seen.started == [CallInfo("client", UNARY, "blue", 2)]
    assert server_seen.started == [CallInfo("server", UNARY, "blue", 2)]
    assert client_seen.codes() == server_seen.codes() == [grpc.StatusCode.OK]


@pytest.mark.parametrize("shape", SHAPES)
def test_a_crash_is_reported_to_observers_and_answered_generically(
    harness: Harness, shape: str, caplog: pytest.LogCaptureFixture
) -> None:
    server_seen = Recorder()
    server = harness.server(behavior=EchoBehavior(raise_error=True), observers=[server_seen])
    client = harness.client(server.address)

    with caplog.at_level(logging.ERROR, logger="resilience"):
        result = client.call(shape)

    [(_, outcome)] = server_seen.ended
    assert outcome.code is grpc.StatusCode.UNKNOWN  # what gRPC answers a handler exception
    assert isinstance(outcome.exception, RuntimeError)
    assert isinstance(result, Failure)
    if not masked_by_grpc_aio(harness, shape, result):
        assert (result.code, result.details) == (grpc.StatusCode.UNKNOWN, "internal server error")
    assert [r.exc_info[1] for r in caplog.records if r.exc_info] == [outcome.exception]


def test_an_abort_is_a_status_not_a_crash(harness: Harness) -> None:
    server_seen = Recorder()
    behavior = EchoBehavior(fail_rate=1.0, fail_code=grpc.StatusCode.NOT_FOUND)
    server = harness.server(behavior=behavior, observers=[server_seen])
    client = harness.client(server.address)

    client.call()

    [(_, outcome)] = server_seen.wait_ended(1)
    assert (outcome.code, outcome.exception) == (grpc.StatusCode.NOT_FOUND, None)


def test_local_rejections_carry_their_reason(harness: Harness) -> None:
    client_seen, server_seen = Recorder(), Recorder()
    limited = Policy.from_dict({"methods": {"*": {"rate_limit": {"limit": 1}}}})
    breaker = Policy.from_dict({"methods": {"*": {"breaker": {"min_requests": 1, "k": 1.0}}}})
    server = harness.server(policy=limited, clock=ManualClock(5.0), observers=[server_seen])
    client = harness.client(
        server.address, policy=breaker, clock=ManualClock(5.0), observers=[client_seen]
    )

    for _ in range(30):
        client.call()

    server_reasons = {outcome.reject_reason for _, outcome in server_seen.ended}
    client_reasons = {outcome.reject_reason for _, outcome in client_seen.ended}
    assert server_reasons == {None, "rate_limit"}
    assert client_reasons == {None, "breaker"}


def test_server_interceptor_is_a_gauge_source_for_its_methods(harness: Harness) -> None:
    server = harness.server()
    client = harness.client(server.address)
    client.call()

    client_gauges = {(r.name, r.attributes["method"]) for r in client.interceptor.gauge_readings()}

    assert client_gauges == {("breaker.drop_probability", UNARY), ("breaker.state", UNARY)}
    assert server.interceptor.gauge_readings() == []  # no breaker or timeout on a server
