"""The rolling counter's hot-path rows say the same as its named sums."""

from __future__ import annotations

from resilience.algorithms._window import RollingCounter


def test_rows_agree_with_the_named_sums_and_stay_cached_within_a_slot() -> None:
    counter = RollingCounter(window=1.0, buckets=4, channels=2)
    for step in range(9):
        totals, current, oldest = counter.advance_rows(step * 0.25)
        current[1] += step
        totals[1] += step
    rows = counter.advance_rows(2.01)
    assert rows is counter.advance_rows(2.2)
    totals, current, oldest = rows
    assert totals[1] - oldest[1] == counter.window_sum(1) == 5 + 6 + 7 + 8
    assert totals[1] - current[1] == counter.previous_window_sum(1) == 4 + 5 + 6 + 7


def test_slots_until_freed_counts_boundaries_from_the_oldest_slot() -> None:
    counter = RollingCounter(window=1.0, buckets=4)
    for step, amount in enumerate((1, 0, 3, 2)):
        counter.advance(step * 0.25)
        counter.add(0, amount)
    assert counter.slots_until_freed(0, 1) == 1
    assert counter.slots_until_freed(0, 2) == 3
    assert counter.slots_until_freed(0, 6) == 4
    assert counter.slots_until_freed(0, 7) is None
