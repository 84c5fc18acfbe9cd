"""AdaptiveRetryWindow: grows while retries succeed and are used up, halves when they fail."""

from __future__ import annotations

import pytest

from resilience.algorithms import AdaptiveRetryWindow
from resilience.testing import ManualClock


def run_period(
    window: AdaptiveRetryWindow, clock: ManualClock, requests: int, success_rate: float = 1.0
) -> int:
    """One period: ``requests`` local requests and as many retries as the window admits, of
    which ``success_rate`` succeed; returns the retries admitted and moves to the next period."""
    for _ in range(requests):
        window.record_request()
    admitted = 0
    while window.try_acquire().allowed:
        admitted += 1
    for index in range(admitted):
        window.record_retry(index < round(success_rate * admitted))
    clock.advance(1.0)
    return admitted


def test_worked_trace_doubles_then_grows_by_one_percent_then_halves() -> None:
    clock = ManualClock()
    window = AdaptiveRetryWindow(period=1.0, success_threshold=0.98, growth_ratio=0.01, clock=clock)
    trace = [run_period(window, clock, requests=1000) for _ in range(7)]
    assert trace == [1, 2, 4, 8, 16, 26, 36]
    assert window.window == 46
    run_period(window, clock, requests=1000, success_rate=0.5)
    assert window.window == 23


def test_a_used_up_window_refuses_until_the_next_period() -> None:
    clock = ManualClock(10.25)
    window = AdaptiveRetryWindow(clock=clock)
    assert window.try_acquire().allowed
    refused = window.try_acquire()
    assert (refused.allowed, refused.reason) == (False, "retry_window")
    assert refused.retry_after == pytest.approx(0.75)


def test_the_switch_refuses_every_retry_while_off() -> None:
    window = AdaptiveRetryWindow(clock=ManualClock())
    window.enabled = False
    refused = window.try_acquire()
    assert (refused.allowed, refused.retry_after, refused.reason) == (False, None, "retry_window")
    window.enabled = True
    assert window.try_acquire().allowed


def test_idle_periods_change_nothing() -> None:
    clock = ManualClock()
    window = AdaptiveRetryWindow(initial=8, clock=clock)
    clock.advance(500.0)
    assert window.window == 8


def test_a_window_left_unused_does_not_grow() -> None:
    clock = ManualClock()
    window = AdaptiveRetryWindow(initial=4, clock=clock)
    for _ in range(3):
        assert window.try_acquire().allowed
        window.record_retry(True)
    clock.advance(1.0)
    assert window.window == 4


def test_halving_stops_at_one() -> None:
    clock = ManualClock()
    window = AdaptiveRetryWindow(initial=2, clock=clock)
    for _ in range(3):
        run_period(window, clock, requests=10, success_rate=0.0)
    assert window.window == 1


def test_max_window_caps_growth() -> None:
    clock = ManualClock()
    window = AdaptiveRetryWindow(max_window=5, clock=clock)
    for _ in range(5):
        run_period(window, clock, requests=1000)
    assert window.window == 5


def test_max_ratio_caps_retries_at_a_share_of_local_requests() -> None:
    clock = ManualClock()
    window = AdaptiveRetryWindow(initial=100, max_ratio=0.2, clock=clock)
    for _ in range(10):
        window.record_request()
    assert sum(window.try_acquire().allowed for _ in range(10)) == 2
    assert window.period_counts() == (10, 2, 1.0)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"period": 0.0}, "period must be > 0 seconds"),
        ({"success_threshold": 1.5}, r"success_threshold must be in \[0, 1\]"),
        ({"growth_ratio": -0.1}, "growth_ratio must be >= 0"),
        ({"initial": 0}, "initial must be >= 1"),
        ({"initial": 4, "max_window": 2}, "max_window must be >= 4"),
        ({"max_ratio": 0.0}, "max_ratio must be > 0"),
    ],
)
def test_bad_settings_are_refused(settings: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AdaptiveRetryWindow(**settings)  # type: ignore[arg-type]
