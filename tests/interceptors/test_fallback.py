"""The policy's ``fallback`` section on real echo servers, sync and aio, interceptor and
``protect()`` forms: which failures a unary-unary call answers instead of raising, with what
(a registered function, the response type's empty message), what observers see, and that a
fallback that raises keeps the call's own error."""

from __future__ import annotations

from typing import Any

import grpc
import grpc.aio
import pytest
from google.protobuf import duration_pb2

from resilience.interceptors import AioClientInterceptor, ClientInterceptor
from resilience.policy import Policy
from resilience.testing import ECHO_METHODS, EchoBehavior, ManualClock

from .harness import AioHarness, Client, Failure, Harness, Recorder

pytestmark = pytest.mark.e2e

UNARY = ECHO_METHODS["unary_unary"]
PATTERN = "/resilience.testing.Echo/*"


def policy(**section: Any) -> Policy:
    return Policy.from_dict({"methods": {PATTERN: {"breaker": False, "fallback": section or True}}})


def client(
    harness: Harness,
    address: str,
    chosen: Policy,
    recorder: Recorder,
    fallbacks: dict[str, Any] | None = None,
) -> Client:
    """A client of ``harness``'s kind with ``fallbacks`` registered on its interceptor."""
    cls = AioClientInterceptor if harness.aio else ClientInterceptor
    interceptor = cls(chosen, observers=[recorder], fallbacks=fallbacks)
    return harness._open_client(address, interceptor)


def events(recorder: Recorder) -> list[tuple[str, dict[str, str]]]:
    return [(name, dict(attrs)) for name, attrs in recorder.events if name.startswith("fallback")]


def failing(code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE) -> EchoBehavior:
    return EchoBehavior(fail_rate=1.0, fail_code=code)


def test_a_registered_function_answers_an_unavailable_call(harness: Harness) -> None:
    seen: list[tuple[Any, Any]] = []

    def answer(request: bytes, error: Any) -> bytes:
        seen.append((request, error.code()))
        return b"cached:" + request

    server = harness.server(behavior=failing())
    recorder = Recorder()
    made = client(harness, server.address, policy(), recorder, {PATTERN: answer})
    assert made.call() == [b"cached:ping"]
    assert seen == [(b"ping", grpc.StatusCode.UNAVAILABLE)]
    assert recorder.codes() == [grpc.StatusCode.UNAVAILABLE]  # observers see the failure
    assert events(recorder) == [
        (
            "fallback.used",
            {"method": UNARY, "side": "client", "answer": "registered", "code": "UNAVAILABLE"},
        )
    ]


def test_the_empty_response_needs_a_protected_channel(harness: Harness) -> None:
    """``response = "empty"``: the response type's default message where the channel knows
    the deserializer (``protect()``); the interceptor form raises the call's error."""
    server = harness.server(behavior=failing(grpc.StatusCode.DEADLINE_EXCEEDED))
    recorder = Recorder()
    made = client(harness, server.address, policy(), recorder)
    result = call_typed(harness, made)
    if harness.protected:
        assert result == duration_pb2.Duration()
        assert [name for name, _ in events(recorder)] == ["fallback.used"]
        assert events(recorder)[0][1]["answer"] == "empty"
    else:
        assert isinstance(result, Failure)
        assert result.code is grpc.StatusCode.DEADLINE_EXCEEDED
        assert events(recorder) == []


def call_typed(harness: Harness, made: Client) -> Any:
    """One unary call whose responses the channel reads as ``Duration`` messages: the
    response, or a Failure."""
    method = made.channel.unary_unary(UNARY, response_deserializer=duration_pb2.Duration.FromString)
    if not harness.aio:
        try:
            return method(b"ping", timeout=5)
        except grpc.RpcError as error:
            return Failure(error.code(), error.details() or "", {})
    assert isinstance(harness, AioHarness)

    async def call() -> Any:
        try:
            return await method(b"ping", timeout=5)
        except grpc.aio.AioRpcError as error:
            return Failure(error.code(), error.details() or "", {})

    return harness.run(call())


def test_a_code_the_section_does_not_name_is_raised(harness: Harness) -> None:
    server = harness.server(behavior=failing(grpc.StatusCode.INTERNAL))
    recorder = Recorder()
    made = client(harness, server.address, policy(), recorder, {PATTERN: lambda r, e: b"x"})
    result = made.call()
    assert isinstance(result, Failure)
    assert result.code is grpc.StatusCode.INTERNAL
    assert events(recorder) == []


def test_a_library_rejection_falls_back_whatever_its_code(harness: Harness) -> None:
    limited = Policy.from_dict({"methods": {PATTERN: {"rate_limit": {"limit": 1}}}})
    server = harness.server(policy=limited, clock=ManualClock(100.0))
    recorder = Recorder()
    made = client(harness, server.address, policy(), recorder, {PATTERN: lambda r, e: b"later"})
    assert made.call() == [b"ping"]
    assert made.call() == [b"later"]  # refused by the server's limit: RESOURCE_EXHAUSTED
    assert recorder.codes() == [grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED]
    no_rejections = policy(rejections=False)
    other = client(harness, server.address, no_rejections, Recorder(), {PATTERN: lambda r, e: b"x"})
    refused = other.call()
    assert isinstance(refused, Failure)
    assert refused.code is grpc.StatusCode.RESOURCE_EXHAUSTED


def test_a_local_refusal_falls_back_too(harness: Harness) -> None:
    """A call the client's own bulkhead refuses never leaves the process and is answered."""
    server = harness.server()
    section = {"max_concurrent": 1, "side": "client"}
    chosen = Policy.from_dict(
        {"methods": {PATTERN: {"breaker": False, "fallback": True, "bulkhead": section}}}
    )
    recorder = Recorder()
    made = client(harness, server.address, chosen, recorder, {PATTERN: lambda r, e: e.details()})
    state = made.interceptor._pipeline.registry.state(UNARY)
    assert state.bulkhead is not None
    held = state.bulkhead.admit_within(0)  # the one place, taken here
    answer = made.call()
    assert isinstance(answer, list)
    assert "rejected by bulkhead" in str(answer[0])
    held.end(held_outcome())
    assert server.behavior.calls == 0


def held_outcome() -> Any:
    from resilience.pipeline import Kind, Outcome

    return Outcome(Kind.SUCCESS)


def test_a_fallback_that_raises_keeps_the_call_error(harness: Harness) -> None:
    def broken(request: bytes, error: Any) -> bytes:
        raise LookupError("no cached answer")

    server = harness.server(behavior=failing())
    recorder = Recorder()
    made = client(harness, server.address, policy(), recorder, {PATTERN: broken})
    result = made.call()
    assert isinstance(result, Failure)
    assert result.code is grpc.StatusCode.UNAVAILABLE
    assert result.details == "echo: failing on purpose"
    assert [name for name, _ in events(recorder)] == ["fallback.failed"]


def test_streams_never_fall_back(harness: Harness) -> None:
    server = harness.server(behavior=failing())
    recorder = Recorder()
    made = client(harness, server.address, policy(), recorder, {PATTERN: lambda r, e: b"x"})
    result = made.call("unary_stream")
    assert isinstance(result, Failure)
    assert result.code is grpc.StatusCode.UNAVAILABLE
    assert events(recorder) == []


def test_bad_registrations_say_what_to_change() -> None:
    with pytest.raises(ValueError, match=r"fallbacks\['Catalog'\]: not a method pattern"):
        ClientInterceptor(observers=(), fallbacks={"Catalog": lambda r, e: None})
    with pytest.raises(TypeError, match=r"must be a function\(request, error\)"):
        AioClientInterceptor(observers=(), fallbacks={"*": "empty"})  # type: ignore[dict-item]


def test_the_metrics_count_each_answer_and_the_failure_behind_it(harness: Harness) -> None:
    """The metrics observer counts the call as UNAVAILABLE and the answer as a decision."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from resilience.observability import MetricsObserver

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    metrics = MetricsObserver(meter_provider=provider)
    server = harness.server(behavior=failing())
    cls = AioClientInterceptor if harness.aio else ClientInterceptor
    interceptor = cls(policy(), observers=[metrics], fallbacks={PATTERN: lambda r, e: b"x"})
    made = harness._open_client(server.address, interceptor)
    try:
        assert made.call() == [b"x"]
        counted: dict[tuple[str, str], float] = {}
        data = reader.get_metrics_data()
        assert data is not None
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    points: list[Any] = list(metric.data.data_points)
                    for point in points:
                        attributes = point.attributes or {}
                        if metric.name == "resilience.decisions":
                            key = (str(attributes["resilience.decision"]), "")
                            counted[key] = point.value
                        elif metric.name == "rpc.client.call.duration":
                            code = str(attributes["rpc.response.status_code"])
                            counted[("call", code)] = point.count
        assert counted == {("fallback.used", ""): 1, ("call", "UNAVAILABLE"): 1}
    finally:
        provider.shutdown()


def test_a_retried_call_falls_back_once_its_retries_are_spent(harness: Harness) -> None:
    """Every form, the sync interceptor's too (its retried calls end after it returned): the
    retries run first, and the fallback answers the last attempt's failure."""
    chosen = Policy.from_dict(
        {
            "methods": {
                PATTERN: {
                    "breaker": False,
                    "read": True,
                    "retry": {"max_attempts": 2, "base_delay": 0.001, "max_delay": 0.002},
                    "fallback": True,
                }
            }
        }
    )
    server = harness.server(behavior=failing())
    recorder = Recorder()
    made = client(harness, server.address, chosen, recorder, {PATTERN: lambda r, e: b"spent"})
    assert made.call(timeout=30) == [b"spent"]
    assert server.behavior.calls == 2
    assert [name for name, _ in events(recorder)] == ["fallback.used"]
