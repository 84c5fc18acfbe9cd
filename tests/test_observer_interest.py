"""Interest: what an observer declares it hears; bad declarations are clear errors; the
library's own observers declare what they use."""

from __future__ import annotations

from typing import Any

import pytest
import sentry_sdk

from observability.conftest import close_sentry
from resilience.events import (
    EVERYTHING,
    NOTHING,
    CallInfo,
    CallOutcome,
    Interest,
    hearing,
    interest_of,
)
from resilience.observability import OverloadHealth, SentryReporter, default_observers
from resilience.observability._stats import CallStats


class Plain:
    def call_started(self, call: CallInfo) -> None: ...

    def call_ended(self, call: CallInfo, outcome: CallOutcome) -> None: ...

    def event(self, name: str, attributes: Any) -> None: ...


class ServerEnds(Plain):
    interest = Interest(sides={"server"}, starts=False, events=False)


def test_an_observer_without_a_declaration_hears_everything() -> None:
    assert interest_of(Plain()) is EVERYTHING
    for side in ("client", "server"):
        assert EVERYTHING.hears(side, "starts")
        assert EVERYTHING.hears(side, "ends")
    assert EVERYTHING.hears(None, "events")


def test_hearing_keeps_the_order_and_only_the_interested() -> None:
    plain, server_ends, other = Plain(), ServerEnds(), Plain()
    observers = [plain, server_ends, other]
    assert hearing(observers, "server", "ends") == (plain, server_ends, other)
    assert hearing(observers, "client", "ends") == (plain, other)
    assert hearing(observers, "server", "starts") == (plain, other)
    assert hearing(observers, None, "events") == (plain, other)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"sides": "server"}, TypeError, r"collection of sides, e\.g\. \('server',\)"),
        ({"sides": ("server", "proxy")}, ValueError, r"'client' and/or 'server', not \['proxy'\]"),
        ({"starts": 0}, TypeError, "starts must be True or False"),
        ({"events": None}, TypeError, "events must be True or False"),
    ],
)
def test_a_bad_interest_says_what_to_change(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        Interest(**kwargs)


def test_an_interest_attribute_of_the_wrong_type_is_named() -> None:
    class Wrong(Plain):
        interest = ("server",)

    with pytest.raises(TypeError, match=r"\.interest must be a resilience\.events\.Interest"):
        interest_of(Wrong())


def test_the_crash_reporter_is_never_told_of_client_calls_or_starts() -> None:
    """Nothing at all before sentry-sdk is initialised; then server calls' ends only."""
    [default] = [o for o in default_observers() if isinstance(o, SentryReporter)]
    assert default.interest.hears("server", "ends") is default.backend_ready()
    close_sentry()
    reporter = SentryReporter()
    assert interest_of(reporter) is NOTHING
    sentry_sdk.init(dsn="http://public@127.0.0.1:9/1", default_integrations=False)
    try:
        observers = (reporter,)
        assert reporter in hearing(observers, "server", "ends")
        assert reporter not in hearing(observers, "client", "ends")
        assert reporter not in hearing(observers, "server", "starts")
        assert reporter not in hearing(observers, None, "events")
    finally:
        close_sentry()


def test_the_status_statistics_and_health_declare_what_they_use() -> None:
    stats = CallStats()
    assert interest_of(stats) == Interest((), starts=False, ends=False, events=False)
    stats.activate()
    assert interest_of(stats) == Interest(events=False)
    stats.deactivate()
    assert interest_of(stats) == Interest((), starts=False, ends=False, events=False)
    health = OverloadHealth()
    try:
        assert interest_of(health) == Interest(sides=("server",), starts=False, events=False)
    finally:
        health.close()
