"""Periodic mode's local view of a shared limit: decisions with no I/O between two syncs.

The view holds three sets of per-slot counts on the store's time line (the local clock plus the
offset measured at the last sync):

- ``global``: every instance's counts as last fetched from the store;
- ``unsynced``: this instance's counts not yet in ``global`` (pending or in flight);
- ``own``: everything this instance counted within the window, synced or not.

Other instances admit too, unseen since they last synced (on average ``lag`` seconds before
our last sync, as the store measured). The view assumes they admit in proportion to their share
of the window: with ``scale = (global + unsynced) / own`` (between 1 and the number of live
instances; that number while this instance has admitted nothing), they admitted ``scale - 1``
times what this instance admitted since ``last sync - lag``. So the estimated count is::

    global + unsynced + (scale - 1) * own admissions since (last sync - lag)

and ``n`` new requests weigh ``scale * n`` (the others are taking their share meanwhile). With
one instance ``scale`` is 1 and the rules are exactly the in-memory limiters'; with N instances
of equal demand each takes 1/N of the room. The last complete window (the tiered rule's demand) is
estimated as ``global + unsynced``: it is nearly all synced.
"""

from __future__ import annotations

import bisect
import threading

from resilience._base.clock import Clock
from resilience.algorithms._admission import ADMIT, admission
from resilience.algorithms._decision import ALLOWED, Decision
from resilience.algorithms._window import RollingCounter
from resilience.backends._rules import decide_on_ring, rejection
from resilience.backends._spec import TIERS, Deltas, LimitSpec, Snapshot, to_us


class PeriodicView:
    """Local admission for one shared limit; thread-safe, no I/O, no sleeping.

    ``instances``: live instances assumed until the first sync says how many there are.
    ``clock``: local seconds; mapped onto the store's time line by the last sync, and before
    it by ``store_now`` (the store's time as known locally).
    """

    def __init__(self, spec: LimitSpec, *, instances: int, clock: Clock, store_now: Clock) -> None:
        self._spec = spec
        self._clock = clock
        channels = spec.channels
        self._tiers = spec.tiers
        self._unsynced_base, self._own_base = channels, 2 * channels
        self._recent_base = 3 * channels
        self._ring = RollingCounter(window=spec.window, buckets=spec.buckets, channels=4 * channels)
        self._pending: Deltas = {}
        self._inflight: Deltas = {}
        self._offset_us = to_us(store_now()) - to_us(clock())
        self._instances = max(1, instances)
        self._mean_age = 0.0
        """Seconds: how long before the last sync, on average, the others synced."""
        self._synced_at = clock()
        self._age_now = 0.0
        self._into_slot = 0.0
        self._history: list[tuple[float, int, int, int]] = []
        """(local time, slot, channel, n) of this instance's counts, for the last window."""
        self._lock = threading.Lock()

    @property
    def instances(self) -> int:
        """Live instances as of the last sync."""
        return self._instances

    def _scale(self, demand: int) -> float:
        """Global demand over this instance's (channel ``demand``), as of the last sync, at
        least 1; the number of live instances while this one has no synced demand."""
        totals, _, oldest = self._ring.rows  # window sum of c: totals[c] - oldest[c]
        own, unsynced = self._own_base + demand, self._unsynced_base + demand
        synced_own = totals[own] - oldest[own] - (totals[unsynced] - oldest[unsynced])
        if synced_own <= 0:
            return float(self._instances)
        return max((totals[demand] - oldest[demand]) / synced_own, 1.0)

    def _unseen(self, channel: int, scale: float, window: bool) -> float:
        """The other instances' counts of ``channel`` not synced yet, over the sliding window
        (or the last complete one): the larger of two estimates. In proportion: ``scale - 1``
        times this instance's counts they have not seen (right for bursts, when every
        instance admits at once). By rate: their synced rate times how long ago they synced,
        on average (right for sparse admissions, which one instance or another gets)."""
        totals, newest, oldest = self._ring.rows
        left = oldest if window else newest  # the slot outside the window measured
        recent, own = self._recent_base + channel, self._own_base + channel
        unsynced = self._unsynced_base + channel
        proportional = (scale - 1.0) * (totals[recent] - left[recent])
        synced_own = totals[own] - left[own] - (totals[unsynced] - left[unsynced])
        others = totals[channel] - left[channel] - synced_own
        span = self._age_now if window else self._age_now - self._into_slot
        by_rate = others * span / self._spec.window if others > 0 and span > 0 else 0.0
        return proportional if proportional > by_rate else by_rate

    def _estimate(self, channel: int) -> tuple[float, float]:
        """(estimated count over the sliding window, scale) of admitted ``channel``."""
        totals, _, oldest = self._ring.rows
        unsynced = self._unsynced_base + channel
        scale = self._scale(self._tiers + channel)
        unseen = self._unseen(channel, scale, window=True)
        seen = totals[channel] - oldest[channel] + totals[unsynced] - oldest[unsynced]
        return seen + unseen, scale

    def _previous(self, demand: int) -> float:
        """Estimated count of channel ``demand`` over the last complete window."""
        totals, newest, _ = self._ring.rows  # last complete window of c: totals[c] - newest[c]
        unsynced = self._unsynced_base + demand
        unseen = self._unseen(demand, self._scale(demand), window=False)
        return totals[demand] - newest[demand] + totals[unsynced] - newest[unsynced] + unseen

    def try_acquire(self, tier: int, n: int) -> Decision:
        """Decide ``n`` requests of ``tier`` (ignored for a sliding window) and count them."""
        spec = self._spec
        local = self._clock()
        now_us = to_us(local) + self._offset_us
        current = now_us // spec.slot_us
        with self._lock:
            self._ring.advance_to(current)
            self._age_now = self._mean_age + (local - self._synced_at)
            self._into_slot = (now_us % spec.slot_us) / 1e6
            decision = self._tiered(tier, n) if spec.tiered else self._sliding(n)
            self._count(current, local, tier, n, decision.allowed)
        return decision

    def _sliding(self, n: int) -> Decision:
        """The sliding-window rule on the estimate: :meth:`_estimate` for channel 0, inlined
        (this is periodic mode's hot path)."""
        # Channels of a sliding limit: global, unsynced, own, recent x (admitted, demand).
        totals, _, oldest = self._ring.rows
        seen = totals[0] - oldest[0]
        mine = totals[2] - oldest[2]
        own_synced_demand = totals[5] - oldest[5] - (totals[3] - oldest[3])
        instances = self._instances
        if own_synced_demand > 0:
            scale = max((totals[1] - oldest[1]) / own_synced_demand, 1.0)
        else:
            scale = float(instances)
        unseen = (scale - 1.0) * (totals[6] - oldest[6])
        others = seen - (totals[4] - oldest[4] - mine)
        if others > 0 and self._age_now > 0:
            by_rate = others * self._age_now / self._spec.window
            unseen = by_rate if by_rate > unseen else unseen
        count = seen + mine + unseen
        weight = (scale if scale < instances else instances) * n
        if count + weight <= self._spec.limit:
            return ALLOWED
        slots = self._estimated_slots(range(1), [scale])
        return rejection(
            self._spec,
            slots,
            total=count,
            used=count,
            n=n,
            weight=weight,
            into_slot=self._into_slot,
        )

    def _tiered(self, tier: int, n: int) -> Decision:
        spec = self._spec
        admitted = [self._estimate(j) for j in range(TIERS)]
        total = sum(count for count, _ in admitted)
        used = sum(count for count, _ in admitted[tier - 1 :])
        reserved = 0.0
        for j in range(tier - 1):
            reserved += self._previous(TIERS + j)
        weight = min(admitted[tier - 1][1], self._instances) * n
        if admission(spec.limit, weight, total, used, reserved) == ADMIT:
            return ALLOWED
        slots = self._estimated_slots(range(TIERS), [scale for _, scale in admitted])
        return rejection(
            spec,
            slots,
            total=total,
            used=used,
            n=n,
            weight=weight,
            into_slot=self._into_slot,
        )

    def _estimated_slots(self, channels: range, scales: list[float]) -> list[float]:
        """Estimated admissions of ``channels`` per slot of the sliding window, oldest first."""
        ring, base = self._ring, self._unsynced_base
        per_slot = [0.0] * self._spec.buckets
        for channel, scale in zip(channels, scales, strict=True):
            pairs = zip(ring.window_slots(channel), ring.window_slots(base + channel), strict=True)
            for i, (seen, unsynced) in enumerate(pairs):
                per_slot[i] += seen + scale * unsynced
        return per_slot

    def decide_own(self, share: LimitSpec, tier: int, n: int) -> Decision:
        """The fallback's decision, while the store is skipped: ``share``'s rule over this
        instance's own counts of the window (what it admitted, whether the view or an earlier
        fallback decided it, and its demand per tier), counted like :meth:`try_acquire`'s, so
        the next sync pushes it."""
        spec = self._spec
        local = self._clock()
        now_us = to_us(local) + self._offset_us
        current = now_us // spec.slot_us
        with self._lock:
            ring = self._ring
            ring.advance_to(current)
            into_slot = (now_us % spec.slot_us) / 1e6
            decision = decide_on_ring(share, ring, self._own_base, tier, n, into_slot)
            self._count(current, local, tier, n, decision.allowed)
        return decision

    def record(self, tier: int, n: int, allowed: bool) -> None:
        """Count a decision taken elsewhere (the fallback limiter), so the next sync pushes it."""
        local = self._clock()
        current = (to_us(local) + self._offset_us) // self._spec.slot_us
        with self._lock:
            self._ring.advance_to(current)
            self._count(current, local, tier, n, allowed)

    def _count(self, current: int, local: float, tier: int, n: int, allowed: bool) -> None:
        """Count ``n`` requests of ``tier`` (demand; admitted too if ``allowed``) as pending,
        unsynced, own and recent in slot ``current``. A sliding limit keeps no recent demand
        (only the tiered rule's reservation reads it)."""
        tiers = self._tiers
        if tiers == 1:
            tier = 1
        channels = (tiers + tier - 1, tier - 1) if allowed else (tiers + tier - 1,)
        pending = self._pending.get(current)
        if pending is None:
            pending = self._pending[current] = [0] * self._spec.channels
        ring = self._ring
        row = ring.row_at(current)
        if row is None:
            for channel in channels:
                pending[channel] += n
            return
        totals = ring.rows[0]
        unsynced, own, recent = self._unsynced_base, self._own_base, self._recent_base
        for channel in channels:
            pending[channel] += n
            for c in (unsynced + channel, own + channel):
                row[c] += n
                totals[c] += n
            if tiers > 1 or channel == 0:
                row[recent + channel] += n
                totals[recent + channel] += n
                self._history.append((local, current, channel, n))

    def take_deltas(self) -> Deltas:
        """The counts to push now; they stay counted as unsynced until :meth:`apply`."""
        with self._lock:
            oldest = self._ring.current - self._spec.buckets
            deltas = {s: counts for s, counts in self._pending.items() if s >= oldest}
            for slot_index, counts in self._inflight.items():
                if slot_index >= oldest:
                    merged = deltas.setdefault(slot_index, [0] * len(counts))
                    deltas[slot_index] = [a + b for a, b in zip(merged, counts, strict=False)]
            self._pending = {}
            self._inflight = deltas
            return dict(deltas)

    def apply(self, snapshot: Snapshot, local_mid: float) -> None:
        """Take the global counts of a successful exchange that started with
        :meth:`take_deltas`; ``local_mid``: local time halfway through the round trip."""
        spec = self._spec
        with self._lock:
            self._offset_us = snapshot.now_us - to_us(local_mid)
            self._instances = max(1, snapshot.instances)
            ring = self._ring
            ring.advance_to(snapshot.current)
            for channel in range(spec.channels):
                ring.clear(channel)
                for i, count in enumerate(snapshot.counts[channel]):
                    ring.add_at(snapshot.current - spec.buckets + i, channel, count)
            for slot_index, counts in self._inflight.items():
                for channel, count in enumerate(counts):
                    if count:
                        ring.add_at(slot_index, self._unsynced_base + channel, -count)
            self._inflight = {}
            ages = snapshot.ages
            self._mean_age = sum(ages) / len(ages) if ages else 0.0
            self._synced_at = local_mid
            self._note_unseen(sorted(local_mid - age for age in ages))
            history = self._history
            keep_after = local_mid - spec.window  # no later sync looks further back
            del history[: bisect.bisect_right(history, keep_after, key=lambda entry: entry[0])]

    def _note_unseen(self, synced_at: list[float]) -> None:
        """Rebuild the ``recent`` counts: each own count weighted by the share of the other
        instances that last synced before it (``synced_at``: their local sync times, sorted),
        i.e. that have not seen it."""
        ring, recent, others = self._ring, self._recent_base, len(synced_at)
        for channel in range(recent, recent + self._spec.channels):
            ring.clear(channel)
        if not others:
            return
        for local, slot_index, channel, n in reversed(self._history):
            unseen_by = bisect.bisect_left(synced_at, local)
            if unseen_by == 0:
                break
            ring.add_at(slot_index, recent + channel, n * unseen_by / others)
