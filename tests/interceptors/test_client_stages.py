"""A client method's breaker and dynamic timeout are admission stages (Breaker, then
Timeout(EmaTimeout)) of the method's compiled admission; these tests pin what each gRPC status
does to them, the places where the interceptors differ from a pipeline's stages included."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from resilience.interceptors._client_call import ClientCall
from resilience.interceptors._client_pipeline import ClientPipeline
from resilience.interceptors._pipeline import Rejection
from resilience.pipeline import Breaker, Timeout
from resilience.policy import Policy
from resilience.testing import ManualClock

METHOD = "/shop.Catalog/Get"


def pipeline(**section: Any) -> tuple[ClientPipeline, ManualClock]:
    clock = ManualClock(100.0)
    settings = {"breaker": {"min_requests": 1000}, "timeout": {"t_avg": 0.2}, **section}
    return ClientPipeline(Policy.from_dict({"methods": {METHOD: settings}}), (), clock), clock


def one_call(pipe: ClientPipeline, clock: ManualClock, code: grpc.StatusCode) -> None:
    call = pipe.start(METHOD, None, None, streaming=False)
    assert isinstance(call, ClientCall)
    clock.advance(0.05)
    call.end(code)


def test_the_stages_are_the_breaker_then_the_dynamic_timeout_compiled() -> None:
    pipe, _ = pipeline()
    admission = pipe.registry.state(METHOD).admission
    assert admission is not None
    assert [type(stage) for stage in admission.stages] == [Breaker, Timeout]
    assert admission.compiled
    pipe, _ = pipeline(breaker=False, timeout=False)
    assert pipe.registry.state(METHOD).admission is None


@pytest.mark.parametrize(
    ("code", "counts", "fed"),
    [
        (grpc.StatusCode.OK, (1, 1), True),
        (grpc.StatusCode.NOT_FOUND, (1, 1), True),  # not a failure code: the callee answered
        (grpc.StatusCode.UNAVAILABLE, (1, 0), True),  # a failure code: fed as a failure
        (grpc.StatusCode.CANCELLED, (1, 1), False),  # counted, not fed (see ClientCall.end)
    ],
)
def test_each_status_reaches_the_breaker_and_the_dynamic_timeout(
    code: grpc.StatusCode, counts: tuple[int, int], fed: bool
) -> None:
    pipe, clock = pipeline()
    state = pipe.registry.state(METHOD)
    assert state.breaker is not None
    assert state.timeout is not None
    before = state.timeout.ema
    one_call(pipe, clock, code)
    assert state.breaker.counts() == counts
    assert (state.timeout.ema != before) is fed


def test_a_cancelled_call_is_a_breaker_failure_when_cancelled_is_a_failure_code() -> None:
    pipe, clock = pipeline(failure_codes=["CANCELLED", "UNAVAILABLE"])
    state = pipe.registry.state(METHOD)
    assert state.breaker is not None
    assert state.timeout is not None
    before = state.timeout.ema
    one_call(pipe, clock, grpc.StatusCode.CANCELLED)
    assert state.breaker.counts() == (1, 0)
    assert state.timeout.ema == before


def test_a_call_never_sent_is_recorded_by_neither() -> None:
    pipe, _ = pipeline()
    state = pipe.registry.state(METHOD)
    call = pipe.start(METHOD, None, None, streaming=False)
    assert isinstance(call, ClientCall)
    call.end_unsent(grpc.StatusCode.RESOURCE_EXHAUSTED, "bulkhead")
    call.end(grpc.StatusCode.OK)  # a late second end: the admission was ended once
    assert state.breaker is not None
    assert state.breaker.counts() == (0, 0)


@pytest.mark.parametrize(("streaming", "streams"), [(False, False), (True, False), (True, True)])
def test_the_dynamic_timeout_bounds_streams_only_with_streams(
    streaming: bool, streams: bool
) -> None:
    pipe, _ = pipeline(timeout={"t_avg": 0.2, "streams": streams})
    state = pipe.registry.state(METHOD)
    assert state.timeout is not None
    call = pipe.start(METHOD, 30.0, None, streaming=streaming)
    assert isinstance(call, ClientCall)
    bounded = not streaming or streams
    assert call.timeout == (state.timeout.timeout() if bounded else 30.0)


def test_a_breaker_drop_is_the_breakers_local_rejection() -> None:
    pipe, _ = pipeline(breaker={"min_requests": 1, "max_drop": 1.0, "k": 1.0})
    for _ in range(50):
        call = pipe.start(METHOD, None, None, streaming=False)
        if isinstance(call, ClientCall):
            call.end(grpc.StatusCode.UNAVAILABLE)
    dropped = [pipe.start(METHOD, None, None, streaming=False) for _ in range(50)]
    refused = [r for r in dropped if isinstance(r, Rejection)]
    assert refused
    assert {r.reason for r in refused} == {"breaker"}
    assert all(r.code is grpc.StatusCode.UNAVAILABLE for r in refused)
