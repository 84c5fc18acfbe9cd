"""The breaker around a store: skip it after a failure, probe once per back-off, log and export
each change of state once."""

from __future__ import annotations

import logging

import pytest

from resilience._base.clock import ManualClock
from resilience.backends.fallback import StoreBreaker


def breaker(clock: ManualClock) -> StoreBreaker:
    return StoreBreaker(
        limit_name="orders",
        store="redis://db:6379/0",
        local_behaviour="deciding locally",
        initial_backoff=0.05,
        max_backoff=0.4,
        clock=clock,
    )


def test_a_failure_skips_the_store_for_a_back_off_then_lets_one_probe_through() -> None:
    clock = ManualClock()
    subject = breaker(clock)
    assert subject.allow()
    subject.failed(ConnectionError("refused"))
    assert subject.open
    assert not subject.allow()
    clock.advance(0.049)
    assert not subject.allow()
    clock.advance(0.001)
    assert subject.allow()  # the probe
    assert not subject.allow()  # only one per back-off


def test_the_back_off_doubles_on_each_failed_probe_up_to_its_maximum() -> None:
    clock = ManualClock()
    subject = breaker(clock)
    waits = []
    subject.failed(TimeoutError())
    for _ in range(6):
        waits.append(round(subject.retry_in(), 3))
        clock.advance(subject.retry_in())
        assert subject.allow()
        subject.failed(TimeoutError())
    assert waits == [0.05, 0.1, 0.2, 0.4, 0.4, 0.4]


def test_success_closes_it_and_resets_the_back_off() -> None:
    clock = ManualClock()
    subject = breaker(clock)
    subject.failed(TimeoutError())
    clock.advance(0.05)
    subject.allow()
    subject.failed(TimeoutError())
    subject.succeeded()
    assert not subject.open
    assert subject.allow()
    assert subject.retry_in() == 0
    subject.failed(TimeoutError())
    assert subject.retry_in() == pytest.approx(0.05)


def test_each_change_of_state_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock()
    subject = breaker(clock)
    with caplog.at_level(logging.WARNING, logger="resilience.backends"):
        for _ in range(3):
            subject.failed(ConnectionError("refused"))
        for _ in range(3):
            subject.succeeded()
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert "failed (ConnectionError: refused); deciding locally" in messages[0]
    assert "redis://db:6379/0" in messages[0]
    assert "'orders'" in messages[0]
    assert "distributed limiting resumed" in messages[1]


def test_its_state_is_a_gauge() -> None:
    clock = ManualClock()
    subject = breaker(clock)
    assert [(g.name, g.value, dict(g.attributes)) for g in subject.gauge_readings()] == [
        ("limiter.fallback", 0.0, {"limit": "orders"})
    ]
    subject.failed(TimeoutError())
    assert [g.value for g in subject.gauge_readings()] == [1.0]


@pytest.mark.parametrize(
    ("initial", "maximum", "message"),
    [(0, 1, "initial_backoff must be > 0"), (0.5, 0.1, "max_backoff must be >= initial_backoff")],
)
def test_bad_back_offs_are_refused(initial: float, maximum: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StoreBreaker(
            limit_name="x",
            store="s",
            local_behaviour="",
            initial_backoff=initial,
            max_backoff=maximum,
        )
