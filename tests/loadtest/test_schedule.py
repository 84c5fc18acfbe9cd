"""The open-loop schedule: ramp, steady rate, totals, and settings validation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resilience.errors import ConfigError
from resilience.recording.format import CallSpec
from resilience.tools.loadtest._core import (
    Dispatcher,
    LoadSettings,
    reject_reason,
    request_metadata,
)


def test_steady_rate_spaces_calls_evenly() -> None:
    settings = LoadSettings(rate=100, duration=2.0)
    assert settings.total_calls == 200
    assert settings.due_at(0) == 0.0
    assert settings.due_at(50) == pytest.approx(0.5)


def test_the_ramp_sends_half_the_rate_times_ramp_calls_then_full_rate() -> None:
    settings = LoadSettings(rate=100, duration=3.0, ramp=2.0)
    assert settings.due_by(2.0) == pytest.approx(100)
    assert settings.total_calls == 200
    assert settings.due_at(100) == pytest.approx(2.0)
    assert settings.due_at(25) == pytest.approx(1.0)  # N(1) = 100 * 1 / 4


@given(
    rate=st.floats(1, 1000),
    duration=st.floats(0.5, 60),
    ramp_share=st.floats(0, 1),
    k=st.integers(0, 10_000),
)
def test_due_at_inverts_due_by_and_never_goes_back(
    rate: float, duration: float, ramp_share: float, k: int
) -> None:
    settings = LoadSettings(rate=rate, duration=duration, ramp=duration * ramp_share)
    assert settings.due_by(settings.due_at(k)) == pytest.approx(k, abs=1e-6)
    assert settings.due_at(k + 1) >= settings.due_at(k)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rate": 0, "duration": 1}, "rate"),
        ({"rate": 1, "duration": 0}, "duration"),
        ({"rate": 1, "duration": 1, "ramp": 2}, "ramp"),
        ({"rate": 1, "duration": 1, "concurrency": 0}, "concurrency"),
        ({"rate": 100_000, "duration": 86_400}, "rate"),
    ],
)
def test_settings_are_bounded(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ConfigError, match=f"^{field}:"):
        LoadSettings(**kwargs)  # type: ignore[arg-type]


def test_dispatcher_hands_out_each_call_once_and_stops() -> None:
    call = CallSpec("/a.B/C", (b"",))

    class One:
        def next_call(self) -> CallSpec:
            return call

    dispatcher = Dispatcher(LoadSettings(rate=10, duration=1.0), One())
    claims = [dispatcher.claim() for _ in range(3)]
    assert [c[0] for c in claims if c] == [0, 1, 2]
    dispatcher.stop()
    assert dispatcher.claim() is None
    assert dispatcher.claimed == 3


def test_color_rides_in_baggage_and_reject_reason_is_read_from_trailers() -> None:
    call = CallSpec("/a.B/C", (b"",), (("x-user", "a"),))
    assert request_metadata(call, "load test") == (
        ("x-user", "a"),
        ("baggage", "resilience.color=load%20test"),
    )
    assert request_metadata(call, None) == call.metadata
    assert reject_reason((("x-resilience-reject", "shed"),)) == "shed"
    assert reject_reason(()) is None
