"""Observers with nothing to do until their backend exists hear nothing until then, and hear
every call that starts once it does (resilience._base.backend_watch)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping

import pytest
import sentry_sdk
from opentelemetry import metrics
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider

from resilience._base import backend_watch
from resilience.events import EVERYTHING, NOTHING, CallInfo, CallOutcome, Interest
from resilience.observability import MetricsObserver, SentryReporter
from resilience.pipeline import Pipeline

from .conftest import CapturingTransport, close_sentry


class Gated:
    """An observer whose backend is a flag: it hears nothing until ``opened``."""

    def __init__(self) -> None:
        self.opened = False
        self.raises = False
        self.heard: list[str] = []

    @property
    def interest(self) -> Interest:
        if self.opened:
            return EVERYTHING
        backend_watch.wait_for_backend(self)
        return NOTHING

    def backend_ready(self) -> bool:
        if self.raises:
            raise RuntimeError("backend lookup broke")
        return self.opened

    def call_started(self, call: CallInfo) -> None:
        self.heard.append("started")

    def call_ended(self, call: CallInfo, outcome: CallOutcome) -> None:
        self.heard.append(outcome.code.name)

    def event(self, name: str, attributes: Mapping[str, str]) -> None:
        self.heard.append(name)


@pytest.fixture
def gated() -> Iterator[Gated]:
    observer = Gated()
    yield observer
    observer.opened = True  # leaves the watch
    backend_watch.check_now()


def waiting() -> list[object]:
    with backend_watch._lock:
        return list(backend_watch._waiting)


def test_a_pipeline_tells_a_waiting_observer_nothing_then_every_call_once_it_is_ready(
    gated: Gated,
) -> None:
    pipe = Pipeline([], observers=[gated])
    pipe.call(lambda: None)
    assert gated.heard == []
    assert gated in waiting()

    gated.opened = True
    pipe.call(lambda: None)
    assert gated.heard == []  # the pipeline sorted its observers when it was built
    backend_watch.check_now()
    pipe.call(lambda: None)

    assert gated.heard == ["started", "OK"]
    assert gated not in waiting()


def test_a_backend_check_that_raises_is_logged_and_the_observer_keeps_waiting(
    gated: Gated, caplog: pytest.LogCaptureFixture
) -> None:
    pipe = Pipeline([], observers=[gated])
    gated.raises = True
    with caplog.at_level(logging.WARNING, logger="resilience.observability"):
        backend_watch.check_now()
    assert "looking for" in caplog.text
    assert "backend failed" in caplog.text
    assert gated in waiting()

    gated.raises = False
    gated.opened = True
    backend_watch.check_now()
    pipe.call(lambda: None)
    assert gated.heard == ["started", "OK"]


def test_the_metrics_observer_hears_nothing_until_the_global_provider_records(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(metrics, "get_meter_provider", NoOpMeterProvider)
    observer = MetricsObserver()
    assert observer.interest is NOTHING
    assert observer in waiting()

    sdk_provider = MeterProvider()
    monkeypatch.setattr(metrics, "get_meter_provider", lambda: sdk_provider)
    backend_watch.check_now()

    assert observer not in waiting()
    assert observer.interest is EVERYTHING


def test_a_metrics_observer_given_a_provider_judges_it_once_and_never_waits() -> None:
    silent = MetricsObserver(meter_provider=NoOpMeterProvider())
    recording = MetricsObserver(meter_provider=MeterProvider())
    assert silent.interest is NOTHING
    assert recording.interest is EVERYTHING
    assert silent not in waiting()
    assert recording not in waiting()


def test_the_crash_reporter_hears_server_ends_from_the_moment_sentry_is_initialised() -> None:
    close_sentry()
    reporter = SentryReporter()
    assert reporter.interest is NOTHING
    assert reporter in waiting()
    try:
        sentry_sdk.init(
            dsn="http://public@127.0.0.1:9/1",
            transport=CapturingTransport(),
            default_integrations=False,
        )
        # Read by a server built now: it looks at sentry-sdk itself, no wait for the watch.
        assert reporter.interest == Interest(sides=("server",), starts=False, events=False)
    finally:
        close_sentry()
    backend_watch.check_now()
    assert reporter not in waiting()
    # Sentry closed again: it keeps hearing, and checks the client before each report.
    assert reporter.interest.hears("server", "ends")
