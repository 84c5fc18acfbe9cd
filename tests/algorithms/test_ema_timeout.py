"""EmaTimeout: elastic room for healthy dependencies, a short leash for degrading ones."""

from __future__ import annotations

from datetime import timedelta

import pytest

from resilience.algorithms import EmaTimeout


def test_worked_example_ema_155ms_gives_375ms() -> None:
    timeout = EmaTimeout(t_avg=0.060, t_hwm=0.250, t_max=0.500, n=1)  # n = 1: ema = last sample
    timeout.observe(0.155)
    assert timeout.ema == pytest.approx(0.155)
    assert timeout.timeout() == pytest.approx(0.375)


def test_starts_at_zero_with_the_whole_elastic_room() -> None:
    timeout = EmaTimeout()
    assert (timeout.ema, timeout.timeout()) == (0.0, 0.5)


def test_each_sample_moves_the_average_by_two_over_n_plus_one() -> None:
    timeout = EmaTimeout(n=80)
    timeout.observe(0.081)
    assert timeout.ema == pytest.approx(2 / 81 * 0.081)
    timeout.observe(0.2)
    assert timeout.ema == pytest.approx(2 / 81 * 0.2 + 79 / 81 * (2 / 81 * 0.081))


def test_a_failed_call_counts_as_at_least_t_max() -> None:
    timeout = EmaTimeout(n=1)
    timeout.observe(0.010, ok=False)
    assert timeout.ema == 0.5
    timeout.observe(0.700, ok=False)
    assert timeout.ema == 0.7


def test_a_degrading_dependency_is_cut_at_the_high_water_mark() -> None:
    timeout = EmaTimeout(n=1)
    timeout.observe(0.300)
    assert timeout.timeout() == 0.250


def test_accepts_timedeltas() -> None:
    timeout = EmaTimeout(timedelta(milliseconds=10), timedelta(milliseconds=20), 0.03)
    assert (timeout.t_avg, timeout.t_hwm, timeout.t_max) == (0.01, 0.02, 0.03)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"t_avg": 0.3, "t_hwm": 0.25}, "t_avg must be < t_hwm"),
        ({"t_max": 0.2}, "t_max must be >= t_hwm"),
        ({"t_avg": -1.0}, "t_avg must be >= 0 seconds"),
        ({"n": 0}, "n must be >= 1"),
    ],
)
def test_bad_settings_are_refused(settings: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EmaTimeout(**settings)  # type: ignore[arg-type]


@pytest.mark.parametrize("latency", [-0.1, float("nan")])
def test_a_negative_or_nan_latency_is_refused(latency: float) -> None:
    with pytest.raises(ValueError, match="latency must be >= 0"):
        EmaTimeout().observe(latency)
