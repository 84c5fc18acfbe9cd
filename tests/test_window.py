"""The rolling counter every algorithm shares: slot alignment, expiry and both window sums."""

from __future__ import annotations

import pytest

from resilience.algorithms._window import RollingCounter


def test_sums_cover_sliding_and_previous_windows() -> None:
    counter = RollingCounter(window=1.0, buckets=10)
    for step in range(12):
        counter.advance(step * 0.1)
        counter.add(0, step + 1)
    # Current slot 11 holds 12; sliding window = slots 2..11 = 3+...+12; previous = slots 1..10.
    assert counter.window_sum(0) == sum(range(3, 13))
    assert counter.previous_window_sum(0) == sum(range(2, 12))
    assert counter.window_slots(0) == list(range(3, 13))
    assert counter.previous_slots(0) == list(range(2, 12))


def test_boundary_instants_fall_in_their_own_slot() -> None:
    counter = RollingCounter(window=1.0, buckets=10)
    assert counter.slot_index(0.3) == 3
    assert counter.slot_index(0.7) == 7


def test_a_long_gap_clears_everything() -> None:
    counter = RollingCounter(window=1.0, buckets=10, channels=2)
    counter.advance(0.0)
    counter.add(0, 5)
    counter.add(1, 7)
    counter.advance(100.0)
    assert counter.window_sum(0) == 0
    assert counter.previous_window_sum(1) == 0


def test_a_clock_going_back_counts_in_the_current_slot() -> None:
    counter = RollingCounter(window=1.0, buckets=10)
    counter.advance(0.55)
    assert counter.advance(0.2) == 5


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"window": 0.0, "buckets": 1}, "window"), ({"window": 1.0, "buckets": 0}, "buckets")],
)
def test_bad_parameters_name_themselves(kwargs: dict[str, float], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        RollingCounter(**kwargs)  # type: ignore[arg-type]
