"""A real Sentry-protocol server (bugsink) receives the crash report, tagged and scrubbed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
import sentry_sdk

from resilience.events import CallInfo, CallOutcome
from resilience.observability import SentryReporter

from .conftest import close_sentry
from .servers import BUGSINK_BOUNDS, BugsinkServer

FLUSH_TIMEOUT = 10.0
"""Seconds sentry_sdk.flush waits for its transport to send the event."""

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(BUGSINK_BOUNDS + FLUSH_TIMEOUT + 30)]
"""Above the sum of every step's own bound, so a slow step fails with its own message."""

TOKEN = "Bearer " + uuid.uuid4().hex
CARD = uuid.uuid4().hex


SENT: list[str] = []


def remember_id(event: Any, hint: Any) -> Any:
    SENT.append(event["event_id"])
    return event


@pytest.fixture
def sentry_to_bugsink(bugsink_server: BugsinkServer) -> Iterator[BugsinkServer]:
    sentry_sdk.init(dsn=bugsink_server.dsn, default_integrations=False, before_send=remember_id)
    yield bugsink_server
    close_sentry()


def handler(request: str, metadata: dict[str, str]) -> None:
    raise RuntimeError("stock service returned garbage")


def test_bugsink_stores_the_report_with_tags_and_without_secrets(
    sentry_to_bugsink: BugsinkServer,
) -> None:
    try:
        handler(CARD, {"authorization": TOKEN})
    except RuntimeError as exc:
        crash = exc
    call = CallInfo("server", "/shop.Stock/Reserve", color="shadow", tier=2)
    SentryReporter().call_ended(call, CallOutcome(grpc.StatusCode.INTERNAL, 0.01, None, crash))
    (event_id,) = SENT
    sentry_sdk.flush(timeout=FLUSH_TIMEOUT)

    event = sentry_to_bugsink.wait_for_event(event_id)
    tags = dict(event["tags"])
    assert tags["rpc.method"] == "shop.Stock/Reserve"
    assert tags["resilience.color"] == "shadow"
    assert tags["resilience.tier"] == "2"
    (exception,) = event["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    assert exception["stacktrace"]["frames"][-1]["function"] == "handler"
    assert TOKEN not in repr(event)
    assert CARD not in repr(event)
