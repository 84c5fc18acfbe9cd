"""The ring of per-slot counts behind periodic mode's local view (``_view.PeriodicView``)."""

from __future__ import annotations


class SlotRing:
    """``channels`` rows of ``size`` positions; position ``s % size`` holds slot ``s`` for the
    ``size`` slots up to ``current``, with a running total per row. Advancing clears the
    positions of slots that left."""

    __slots__ = ("current", "rows", "size", "totals")

    def __init__(self, size: int, channels: int) -> None:
        self.size = size
        self.rows = [[0.0] * size for _ in range(channels)]
        self.totals = [0.0] * channels
        self.current = 0

    def advance(self, current: int) -> None:
        if current <= self.current:
            return
        size, rows, totals = self.size, self.rows, self.totals
        for step in range(max(self.current + 1, current - size + 1), current + 1):
            position = step % size
            for channel, row in enumerate(rows):
                if row[position]:
                    totals[channel] -= row[position]
                    row[position] = 0.0
        self.current = current

    def add(self, slot_index: int, channel: int, amount: float) -> None:
        if self.current - self.size < slot_index <= self.current:
            self.rows[channel][slot_index % self.size] += amount
            self.totals[channel] += amount

    def clear(self, channel: int) -> None:
        self.rows[channel][:] = [0.0] * self.size
        self.totals[channel] = 0.0

    def window(self, channel: int) -> float:
        """Sum over the sliding window: the ``size - 1`` slots up to ``current``."""
        return self.totals[channel] - self.rows[channel][(self.current + 1) % self.size]

    def previous(self, channel: int) -> float:
        """Sum over the ``size - 1`` slots before ``current``."""
        return self.totals[channel] - self.rows[channel][self.current % self.size]

    def window_slots(self, channel: int) -> list[float]:
        row, size = self.rows[channel], self.size
        return [row[s % size] for s in range(self.current - size + 2, self.current + 1)]
