"""One rolling bucketed counter shared by the algorithms.

Time is cut into slots of ``window / buckets`` seconds, aligned to ``floor(now / slot)``. The
counter keeps the current slot and the ``buckets`` slots before it (a ring of ``buckets + 1``)
with a running total per channel, so both sums the algorithms need are O(1):

- :meth:`RollingCounter.window_sum`: the last ``buckets`` slots, the current one included
  (the sliding window);
- :meth:`RollingCounter.previous_window_sum`: the ``buckets`` slots before the current one (the
  last complete window).

Hot paths call :meth:`RollingCounter.advance_rows` once and then read and write the returned
rows directly (a few list subscripts instead of several method calls); the named methods say the
same thing more slowly and serve everything off the hot path. The hottest skip even that call
while ``now < counter.next_slot_at``: ``counter.rows`` are then the rows advance would return.

The same ring serves the shared limits of :mod:`resilience.backends`, whose slots are integer
indices on the store's microsecond time line rather than float seconds: :meth:`advance_to`
moves to a slot index, :meth:`add_at` counts in a past slot still in the ring, :meth:`slots`
and :meth:`window_slots` read a range of slots. The layout is the one the Redis scripts keep in
a hash (``ring.lua``): the newest slot, a running total per channel and ``buckets + 1``
positions cleared as the ring moves; a clock that goes back counts in the newest slot there too.

The counter holds no lock: the algorithm that owns it serializes access.
"""

from __future__ import annotations

Rows = tuple[list[float], list[float], list[float]]
"""``(totals, current, oldest)``: see :meth:`RollingCounter.advance_rows`."""

_EPSILON = 1e-9
"""Slack, in slots, added before flooring so that float error (0.3 / 0.1 = 2.999...) does not
put an instant that lies exactly on a slot boundary into the previous slot."""


class RollingCounter:
    """Per-channel counts over a ring of ``buckets + 1`` time slots.

    ``window``: seconds covered by ``buckets`` slots (> 0). ``buckets``: slots per window (>= 1).
    ``channels``: how many independent counts each slot holds (for example one per tier).
    Counts are ints or floats; every method expects :meth:`advance` to have been called with the
    current time first.
    """

    __slots__ = (
        "_current",
        "_per_slot",
        "_ring",
        "_size",
        "_slot",
        "_totals",
        "next_slot_at",
        "rows",
    )

    def __init__(self, *, window: float, buckets: int, channels: int = 1) -> None:
        if not window > 0:
            raise ValueError(f"window must be > 0 seconds, got {window!r}")
        if buckets < 1:
            raise ValueError(f"buckets must be >= 1, got {buckets!r}")
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels!r}")
        self._slot = window / buckets
        self._per_slot = buckets / window
        self._size = buckets + 1
        self._ring: list[list[float]] = [[0] * channels for _ in range(self._size)]
        self._totals: list[float] = [0] * channels
        self._current = 0
        self.rows: Rows = (self._totals, self._ring[0], self._ring[1 % self._size])
        """The live rows ``(totals, current, oldest)`` as of the last advance (read only)."""
        self.next_slot_at = self._slot_end(0)
        """Seconds: every ``now`` before it lies in the current slot (or before it), so
        :meth:`advance_rows` would not move; a few nanoseconds early, never late (read only)."""

    def _slot_end(self, index: int) -> float:
        # 2 * _EPSILON slots early: float error must not put a later slot's instant before it.
        return (index + 1 - 2 * _EPSILON) * self._slot

    @property
    def slot(self) -> float:
        """Length of one slot in seconds."""
        return self._slot

    @property
    def current(self) -> int:
        """Index of the current slot (``floor(now / slot)`` at the last :meth:`advance`)."""
        return self._current

    def slot_index(self, now: float) -> int:
        """The index of the slot containing ``now`` (seconds)."""
        return int(now * self._per_slot + _EPSILON)

    def advance(self, now: float) -> int:
        """Move to the slot containing ``now``, clearing the slots that fell out; return its index.

        A ``now`` earlier than the current slot (a clock that went back) is counted in the
        current slot. Cost: O(1) amortized, at most ``buckets + 1`` slots cleared per call.
        """
        index = int(now * self._per_slot + _EPSILON)
        if index > self._current:
            self._move_to(index)
        return self._current

    def advance_rows(self, now: float) -> Rows:
        """:meth:`advance` to ``now`` and return the live rows ``(totals, current, oldest)``.

        For hot paths. For every channel ``c``: ``totals[c] - oldest[c]`` is
        :meth:`window_sum`, ``totals[c] - current[c]`` is :meth:`previous_window_sum`, and
        :meth:`add` is ``current[c] += x; totals[c] += x``. The rows stay valid until the next
        advance; the tuple itself is cached per slot, so this allocates nothing.
        """
        index = int(now * self._per_slot + _EPSILON)
        if index > self._current:
            self._move_to(index)
        return self.rows

    def advance_to(self, index: int) -> Rows:
        """Move to slot ``index`` (an integer slot index, not seconds) if it is later than the
        current one, as :meth:`advance_rows` does for a time; return the live rows."""
        if index > self._current:
            self._move_to(index)
        return self.rows

    @property
    def size(self) -> int:
        """Slots in the ring: ``buckets + 1``."""
        return self._size

    def row_at(self, index: int) -> list[float] | None:
        """The per-channel counts of slot ``index`` if the ring still holds it (one of the
        ``buckets + 1`` slots up to the current one), else None. Writing a count ``x`` to
        channel ``c`` is ``row[c] += x`` plus ``rows[0][c] += x`` (the running total)."""
        if self._current - self._size < index <= self._current:
            return self._ring[index % self._size]
        return None

    def add_at(self, index: int, channel: int, amount: float) -> bool:
        """Add ``amount`` to ``channel`` in slot ``index``; False (nothing counted) when the
        ring no longer holds that slot or does not reach it yet."""
        if self._current - self._size < index <= self._current:
            self._ring[index % self._size][channel] += amount
            self._totals[channel] += amount
            return True
        return False

    def clear(self, channel: int) -> None:
        """Zero ``channel`` in every slot and its total."""
        for counts in self._ring:
            counts[channel] = 0
        self._totals[channel] = 0

    def _move_to(self, index: int) -> None:
        current, ring, totals, size = self._current, self._ring, self._totals, self._size
        for step in range(current + 1, min(index, current + size) + 1):
            counts = ring[step % size]
            for channel, value in enumerate(counts):
                if value:
                    totals[channel] -= value
                    counts[channel] = 0
        self._current = index
        self.rows = (totals, ring[index % size], ring[(index + 1) % size])
        self.next_slot_at = self._slot_end(index)

    def add(self, channel: int, amount: float = 1) -> None:
        """Add ``amount`` to ``channel`` in the current slot."""
        self._ring[self._current % self._size][channel] += amount
        self._totals[channel] += amount

    def window_sum(self, channel: int) -> float:
        """Sum of ``channel`` over the last ``buckets`` slots, the current one included."""
        return self._totals[channel] - self._ring[(self._current + 1) % self._size][channel]

    def previous_window_sum(self, channel: int) -> float:
        """Sum of ``channel`` over the ``buckets`` complete slots before the current one."""
        return self._totals[channel] - self._ring[self._current % self._size][channel]

    def current_value(self, channel: int) -> float:
        """``channel``'s count in the current slot."""
        return self._ring[self._current % self._size][channel]

    def slots_until_freed(self, channel: int, amount: float) -> int | None:
        """How many slot boundaries must pass before ``channel``'s sliding-window sum has
        dropped by at least ``amount`` (1 = at the end of the current slot), or None when the
        window does not hold that much. Cost: O(buckets); for reject paths."""
        size, ring, current = self._size, self._ring, self._current
        freed = 0.0
        for boundaries, step in enumerate(range(current - size + 2, current + 1), start=1):
            freed += ring[step % size][channel]
            if freed >= amount:
                return boundaries
        return None

    def window_slots(self, channel: int) -> list[float]:
        """``channel``'s counts in the sliding window's ``buckets`` slots, oldest first."""
        size, ring, current = self._size, self._ring, self._current
        return [ring[step % size][channel] for step in range(current - size + 2, current + 1)]

    def slots(self, channel: int) -> list[float]:
        """``channel``'s counts in all ``buckets + 1`` slots of the ring, oldest first (the
        last complete window's oldest slot up to the current one)."""
        size, ring, current = self._size, self._ring, self._current
        return [ring[step % size][channel] for step in range(current - size + 1, current + 1)]

    def previous_slots(self, channel: int) -> list[float]:
        """``channel``'s counts in the ``buckets`` slots before the current one, oldest first."""
        size, ring, current = self._size, self._ring, self._current
        return [ring[step % size][channel] for step in range(current - size + 1, current)]

    def reset(self) -> None:
        """Zero every slot and total."""
        for counts in self._ring:
            counts[:] = [0] * len(counts)
        self._totals[:] = [0] * len(self._totals)
