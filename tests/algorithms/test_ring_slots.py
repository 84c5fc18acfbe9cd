"""The rolling counter as the shared limits use it: slot indices, past slots, whole-ring reads,
and the hot paths' shortcut (``now < next_slot_at`` means advancing would not move)."""

from __future__ import annotations

import random

from resilience.algorithms._window import RollingCounter


def test_advance_to_moves_by_slot_index_and_never_back() -> None:
    ring = RollingCounter(window=1.0, buckets=4, channels=2)
    totals, current, _ = ring.advance_to(1000)
    current[1] += 3
    totals[1] += 3
    assert ring.current == 1000
    assert ring.advance_to(998) is ring.rows  # an earlier slot counts in the newest, as Redis
    assert ring.current == 1000
    ring.advance_to(1004)  # slot 1000 is now the ring's oldest: out of the window
    assert ring.window_sum(1) == 0
    assert ring.previous_window_sum(1) == 3
    assert ring.slots(1) == [3, 0, 0, 0, 0]


def test_add_at_counts_in_past_slots_of_the_ring_only() -> None:
    ring = RollingCounter(window=1.0, buckets=4)
    ring.advance_to(20)
    assert ring.add_at(16, 0, 1)  # the oldest slot the ring holds
    assert ring.add_at(18, 0, 2)
    assert not ring.add_at(15, 0, 4)  # expired
    assert not ring.add_at(21, 0, 8)  # not reached yet
    assert ring.slots(0) == [1, 0, 2, 0, 0]
    assert ring.window_slots(0) == [0, 2, 0, 0]
    assert ring.window_sum(0) == 2
    assert ring.previous_window_sum(0) == 3
    row = ring.row_at(18)
    assert row is not None
    assert row[0] == 2
    assert ring.row_at(15) is None
    assert ring.row_at(21) is None


def test_clear_zeroes_one_channel_and_its_total() -> None:
    ring = RollingCounter(window=1.0, buckets=2, channels=2)
    for slot in (5, 6, 7):
        ring.advance_to(slot)
        ring.add(0, 1)
        ring.add(1, 10)
    ring.clear(1)
    assert ring.slots(1) == [0, 0, 0]
    assert ring.window_sum(1) == 0
    assert ring.slots(0) == [1, 1, 1]
    assert ring.window_sum(0) == 2


def test_before_next_slot_at_advancing_does_not_move() -> None:
    rng = random.Random(7)
    for window, buckets in ((1.0, 10), (0.3, 3), (60.0, 7), (1.0, 1)):
        ring = RollingCounter(window=window, buckets=buckets)
        now = rng.uniform(0, 1e6)
        for _ in range(2000):
            now += rng.choice([0.0, window / buckets, rng.uniform(0, window / buckets / 3)])
            if now < ring.next_slot_at:
                rows, current = ring.rows, ring.current
                assert ring.advance_rows(now) is rows
                assert ring.current == current
            else:
                ring.advance_rows(now)
                assert now < ring.next_slot_at


def test_next_slot_at_is_the_slot_boundary_within_nanoseconds() -> None:
    ring = RollingCounter(window=1.0, buckets=10)
    ring.advance(0.25)
    assert 0.3 - 1e-9 < ring.next_slot_at < 0.3
    ring.advance(0.3)  # exactly on the boundary: the next slot
    assert ring.current == 3
