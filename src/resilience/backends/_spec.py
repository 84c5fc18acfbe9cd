"""The values a shared limit and its store exchange: the limit's geometry, a sync snapshot.

Time in the stores is integer microseconds, so that Python and Lua cut slots identically:
slot ``s`` covers ``[s * slot_us, (s + 1) * slot_us)``. A limit keeps its counts in a ring of
``buckets + 1`` slots (the sliding window plus the slot before it, which the tiered rule needs
for the last complete window).

Channels: admitted requests per tier, then demand (every request, admitted or not) per tier.
A sliding-window limit has one tier (channels: admitted, demand); a tiered limit four
(admitted of tiers 1..4 in channels 0..3, demand of tiers 1..4 in channels 4..7). Demand is
what periodic mode divides the room between instances by.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from resilience._base.limits import MAX_BUCKETS, MAX_COUNT
from resilience.errors import ConfigError

TIERS = 4
"""Tiers 1 (most critical) .. 4 of the tiered rule."""


def to_us(seconds: float) -> int:
    """Seconds to whole microseconds, rounded (0.1 + 0.2 lands on 300000, not 299999)."""
    return round(seconds * 1_000_000)


@dataclass(frozen=True, slots=True)
class LimitSpec:
    """One named shared limit: at most ``limit`` requests per ``window`` seconds, counted in
    ``buckets`` slots; ``tiered`` selects the TieredLimiter rule instead of the sliding window.

    Every instance sharing ``name`` must use the same ``window`` and ``buckets`` (``limit`` may
    differ, each instance enforces its own). Raises ValueError naming a bad parameter.
    """

    name: str
    limit: int
    window: float = 1.0
    buckets: int = 10
    tiered: bool = False
    slot_us: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("name must be a non-empty string")
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 0:
            raise ValueError(f"limit must be an int >= 0, got {self.limit!r}")
        if not self.window > 0:
            raise ValueError(f"window must be > 0 seconds, got {self.window!r}")
        if isinstance(self.buckets, bool) or not isinstance(self.buckets, int) or self.buckets < 1:
            raise ValueError(f"buckets must be an int >= 1, got {self.buckets!r}")
        if self.buckets > MAX_BUCKETS or self.limit > MAX_COUNT:
            raise ConfigError(
                f"buckets must be <= {MAX_BUCKETS} and limit <= {MAX_COUNT}, "
                f"got {self.buckets!r} and {self.limit!r}"
            )
        slot_us = to_us(self.window / self.buckets)
        if slot_us < 1000:
            raise ValueError(
                f"window / buckets must be >= 1 ms, got {self.window!r} / {self.buckets!r}"
            )
        object.__setattr__(self, "slot_us", slot_us)

    @property
    def tiers(self) -> int:
        """Tiers the rule tells apart: 4 for a tiered limit, 1 for a sliding window."""
        return TIERS if self.tiered else 1

    @property
    def channels(self) -> int:
        """Counts kept per slot: admitted and demand per tier."""
        return 2 * self.tiers

    @property
    def size(self) -> int:
        """Slots in the ring: the sliding window's ``buckets`` plus the one before them."""
        return self.buckets + 1

    @property
    def slot(self) -> float:
        """Length of one slot in seconds."""
        return self.slot_us / 1_000_000

    @property
    def ttl_ms(self) -> int:
        """Expiry of the store's keys: two windows plus a second, refreshed on every write."""
        return 2 * self.buckets * self.slot_us // 1000 + 1000

    def keys(self, prefix: str) -> tuple[str, str]:
        """The Redis keys of this limit: its slot ring and its instance registry. Both carry
        the hash tag ``{prefix:name}`` so Redis Cluster keeps them in one slot."""
        tag = f"{{{prefix}:{self.name}}}"
        return f"{tag}:w", f"{tag}:i"


Counts = list[list[int]]
"""Per channel, the counts of the ring's slots oldest first: slot ``current - buckets`` up to
``current`` (``buckets + 1`` entries)."""

Deltas = dict[int, list[int]]
"""Slot index -> per-channel counts an instance admitted (or saw demanded) and has not pushed."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one periodic exchange returns: the store's time (``now_us``), its current slot,
    how many instances synced within the last window (this one included), the global counts
    of the ring, and how many seconds ago each other live instance last synced (``ages``:
    what it admitted since is not in the counts)."""

    now_us: int
    current: int
    instances: int
    counts: Counts
    ages: tuple[float, ...] = ()


def empty_counts(spec: LimitSpec) -> Counts:
    """All-zero counts for ``spec``'s ring."""
    return [[0] * spec.size for _ in range(spec.channels)]


def flatten_deltas(deltas: Deltas) -> list[int]:
    """``[slot, c0, c1, ..., slot, c0, ...]``: the wire form of deltas for the Lua script."""
    flat: list[int] = []
    for slot_index in sorted(deltas):
        flat.append(slot_index)
        flat.extend(deltas[slot_index])
    return flat


def parse_counts(values: Sequence[object], spec: LimitSpec) -> Counts:
    """Rebuild per-channel counts from a flat reply (channel-major); junk reads as 0."""
    size = spec.size
    counts = empty_counts(spec)
    for channel in range(spec.channels):
        row = counts[channel]
        for i in range(size):
            row[i] = as_count(values[channel * size + i])
    return counts


def as_count(value: object) -> int:
    """A non-negative int from a store value; anything malformed is 0."""
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0
    return number if number > 0 else 0
