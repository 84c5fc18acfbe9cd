"""Handler crashes reach Sentry once, tagged, without payloads or metadata; nothing else does."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import grpc
import pytest
import sentry_sdk
from opentelemetry.sdk.trace import TracerProvider
from sentry_sdk.utils import event_from_exception

from resilience.events import CallInfo, CallOutcome
from resilience.observability import SentryReporter
from resilience.observability.sentry import generic_internal_message, scrub_event

from .conftest import close_sentry

# Built at run time, so that the source lines Sentry quotes around a frame cannot contain them.
SECRET = "Bearer " + uuid.uuid4().hex
CARD = "-".join([str(uuid.uuid4().int)[:4]] * 4)
COOKIE = "session=" + uuid.uuid4().hex


def crash_in_handler(request: bytes, metadata: tuple[tuple[str, str], ...]) -> None:
    card = request.decode()  # a local holding payload data
    raise ValueError(f"cannot charge (len {len(card)})")


def crashed() -> BaseException:
    try:
        crash_in_handler(CARD.encode(), (("authorization", SECRET), ("cookie", COOKIE)))
    except ValueError as exc:
        return exc
    raise AssertionError("unreachable")


def report(exception: BaseException, side: str = "server", **call: Any) -> None:
    info = CallInfo(side, "/shop.Pay/Charge", **call)  # type: ignore[arg-type]
    SentryReporter().call_ended(info, CallOutcome(grpc.StatusCode.INTERNAL, 0.01, None, exception))


def test_a_server_crash_is_reported_with_tags_and_the_handler_stack(
    sentry_events: list[dict[str, Any]],
) -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("server") as span:
        report(crashed(), color="loadtest", tier=1)
    (event,) = sentry_events
    assert event["tags"] == {
        "rpc.method": "shop.Pay/Charge",
        "resilience.color": "loadtest",
        "resilience.tier": "1",
        "trace_id": format(span.get_span_context().trace_id, "032x"),
    }
    (exception,) = event["exception"]["values"]
    assert exception["type"] == "ValueError"
    assert exception["mechanism"] == {"type": "resilience.grpc", "handled": False}
    functions = [frame["function"] for frame in exception["stacktrace"]["frames"]]
    assert functions[-1] == "crash_in_handler"


def test_no_payload_and_no_metadata_value_reaches_sentry(
    sentry_events: list[dict[str, Any]],
) -> None:
    report(crashed())
    (event,) = sentry_events
    text = repr(event)
    assert CARD not in text
    assert SECRET not in text
    assert COOKIE not in text
    frames = event["exception"]["values"][0]["stacktrace"]["frames"]
    assert all("vars" not in frame for frame in frames)


def test_an_exception_is_reported_once_even_if_sentry_integrations_see_it_again(
    sentry_events: list[dict[str, Any]],
) -> None:
    exception = crashed()
    report(exception)
    report(exception)
    # What sentry-sdk's own gRPC (aio) and logging integrations do with the same exception:
    event, hint = event_from_exception(exception, mechanism={"type": "grpc", "handled": False})
    sentry_sdk.capture_event(event, hint=hint)
    sentry_sdk.capture_exception(exception)
    assert len(sentry_events) == 1


def test_client_side_failures_and_clean_calls_are_not_reported(
    sentry_events: list[dict[str, Any]],
) -> None:
    report(crashed(), side="client")
    SentryReporter().call_ended(
        CallInfo("server", "/a.B/C"), CallOutcome(grpc.StatusCode.INTERNAL, 0.0)
    )
    assert sentry_events == []


def test_without_sentry_initialised_the_reporter_does_nothing() -> None:
    close_sentry()
    report(crashed())  # no client: must neither raise nor send


def test_tags_stay_bounded(sentry_events: list[dict[str, Any]]) -> None:
    report(crashed(), color="x" * 64, tier=9)
    (event,) = sentry_events
    assert event["tags"]["resilience.color"] == "other"
    assert event["tags"]["resilience.tier"] == "other"


def test_the_scrubber_removes_locals_request_and_extra() -> None:
    event = {
        "exception": {"values": [{"stacktrace": {"frames": [{"function": "f", "vars": {1: 2}}]}}]},
        "threads": {"values": [{"stacktrace": {"frames": [{"vars": {"x": SECRET}}]}}]},
        "request": {"headers": {"authorization": SECRET}},
        "extra": {"metadata": SECRET},
    }
    assert SECRET not in repr(scrub_event(event, {}))


def test_the_generic_message_says_nothing_about_the_crash() -> None:
    assert generic_internal_message() == "internal server error"


@pytest.mark.timeout(30)
def test_an_unreachable_sentry_does_not_hold_up_calls() -> None:
    # A DSN on a loopback port nobody listens on; the real HTTP transport is used.
    sentry_sdk.init(dsn="http://public@127.0.0.1:9/1", default_integrations=False)
    try:
        finished = threading.Event()

        def crash_many() -> None:
            for _ in range(200):
                report(crashed())
            finished.set()

        worker = threading.Thread(target=crash_many, daemon=True)
        started = time.monotonic()
        worker.start()
        # Generous bound: this detects blocking on the network, not speed.
        assert finished.wait(timeout=20.0), "reporting blocked on an unreachable Sentry"
        assert time.monotonic() - started < 20.0
    finally:
        sentry_sdk.get_client().close(timeout=0.5)
        close_sentry()
