"""OverloadGuard: server-side shedding when CPU is saturated and more is in flight than served."""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from types import MappingProxyType

from resilience._base.clock import Clock, default_clock
from resilience._base.limits import MAX_BUCKETS
from resilience.algorithms._cpu import CpuSampler, default_cpu_sampler
from resilience.algorithms._decision import ALLOWED, Decision
from resilience.algorithms._params import Duration, integer, number, seconds
from resilience.algorithms._window import RollingCounter
from resilience.errors import RejectReason

_SHED = Decision(False, None, RejectReason.OVERLOAD.value)
_PASSED, _LATENCY = 0, 1
"""Counter channels: calls completed (released) and the sum of their latencies, per slot."""
_TIERS = (1, 2, 3, 4)
DEFAULT_CPU_THRESHOLDS: Mapping[int, float] = MappingProxyType({1: 0.95, 2: 0.90, 3: 0.85, 4: 0.80})
"""Tier -> CPU utilization above which the tier may be shed: tier 4 first, tier 1 last."""


class OverloadGuard:
    """BBR-style adaptive shedding with per-tier CPU thresholds (as go-kratos/aegis, go-zero).

    A call of tier k is shed (reason ``"overload"``) iff::

        (cpu > cpu_thresholds[k]  or  tier k shed within the last ``cooldown`` seconds)
        and inflight > max(1, max_inflight)

    - ``cpu``: utilization 0..1 from ``cpu_sampler``, called on the call path at most every
      ``sample_interval`` seconds (no thread) and smoothed as
      ``cpu = decay * cpu + (1 - decay) * sample`` from 0.
    - ``inflight``: calls admitted and not yet released.
    - ``max_inflight = max_pass * min_rt * buckets / window`` (Little's law), rounded to the
      nearest call: over the complete slots of the window, ``max_pass`` is the most calls
      completed in one slot and ``min_rt`` the lowest mean latency of a slot, in seconds. With
      no completed call in the window there is no estimate and nothing is shed. It is
      recomputed once per slot (O(buckets), amortized O(1) per call).
    - The cool-down keeps shedding by the in-flight test for ``cooldown`` seconds after shedding
      starts even if the CPU dips, so the guard does not flap; starting to shed tier k restarts
      the cool-down of every less critical tier too, so a tier is shed only while every less
      critical tier is.

    Thresholds must not rise from tier 1 to tier 4: the least critical tier sheds first.

    Use: ``d = guard.try_acquire(tier)``; if ``d.allowed``, run the call and then call
    ``guard.release(latency)`` exactly once, whatever its outcome (the "done" callback of
    go-kratos/aegis's BBR limiter, kept as a method so admission allocates nothing).

    ``cpu_thresholds``: tier 1..4 -> utilization in (0, 1]. ``window``: seconds (> 0).
    ``buckets``: slots (>= 1). ``cpu_sampler``: a callable returning utilization 0..1 (default:
    Linux ``/proc/stat``, else this process's CPU time); an exception or a value that is not a
    number in 0..1 skips that sample. ``sample_interval``, ``cooldown``: seconds (> 0).
    ``decay``: in [0, 1). ``clock``: seconds, read once per call. Source: the QQ Music article's
    server-side adaptive shedding and the BBR limiters of go-kratos/aegis and go-zero.
    Thread-safe.
    """

    __slots__ = (
        "_clock",
        "_cooldown",
        "_counter",
        "_cpu",
        "_decay",
        "_estimate",
        "_estimate_slot",
        "_inflight",
        "_lock",
        "_next_sample",
        "_per_second",
        "_sample_interval",
        "_sampler",
        "_shed_since",
        "_thresholds",
    )

    def __init__(
        self,
        cpu_thresholds: Mapping[int, float] = DEFAULT_CPU_THRESHOLDS,
        window: Duration = 10.0,
        buckets: int = 100,
        *,
        cpu_sampler: CpuSampler | None = None,
        sample_interval: Duration = 0.5,
        decay: float = 0.95,
        cooldown: Duration = 1.0,
        clock: Clock = default_clock,
    ) -> None:
        self._thresholds = _validated_thresholds(cpu_thresholds)
        window_seconds = seconds("window", window)
        buckets = integer("buckets", buckets, minimum=1, maximum=MAX_BUCKETS)
        self._per_second = buckets / window_seconds
        self._counter = RollingCounter(window=window_seconds, buckets=buckets, channels=2)
        self._sampler = cpu_sampler if cpu_sampler is not None else default_cpu_sampler()
        self._sample_interval = seconds("sample_interval", sample_interval)
        self._decay = number("decay", decay, low=0.0, high=1.0, high_open=True)
        self._cooldown = seconds("cooldown", cooldown)
        self._clock = clock
        self._cpu = 0.0
        self._next_sample = -math.inf
        self._inflight = 0
        self._shed_since: dict[int, float | None] = dict.fromkeys(_TIERS)
        self._estimate = math.inf
        self._estimate_slot = -1
        self._lock = threading.Lock()

    @property
    def cpu(self) -> float:
        """The smoothed CPU utilization, 0..1."""
        return self._cpu

    @property
    def inflight(self) -> int:
        """Calls admitted and not yet released."""
        return self._inflight

    @property
    def max_inflight(self) -> float:
        """The in-flight capacity estimate now (``inf`` without a completed call in the window)."""
        now = self._clock()
        with self._lock:
            return self._capacity(now)

    def shedding_tiers(self) -> tuple[int, ...]:
        """The tiers being shed now: shed within the last ``cooldown`` seconds, or shed since
        and the CPU still above their threshold (for status pages; the call path does not use
        it). Empty when nothing is shed."""
        now = self._clock()
        with self._lock:
            return tuple(
                tier
                for tier, since in self._shed_since.items()
                if since is not None
                and (now - since <= self._cooldown or self._cpu > self._thresholds[tier])
            )

    def try_acquire(self, tier: int) -> Decision:
        """Admit a call of ``tier`` (1..4) or shed it; see the class docstring. An admitted call
        must be followed by exactly one :meth:`release`."""
        return self._acquire_at(tier, self._clock())

    def _acquire_at(self, tier: int, now: float) -> Decision:
        """:meth:`try_acquire` at ``now``, seconds on this guard's clock, for a caller that has
        just read it (a fused pipeline shares one reading among its stages)."""
        try:
            threshold = self._thresholds[tier]
        except KeyError:
            raise ValueError(f"tier must be in 1..4, got {tier!r}") from None
        if now >= self._next_sample:
            self._sample(now)
        lock = self._lock
        lock.acquire()  # not `with`: 50 ns less per call on CPython 3.11 (benchmarks/README.md)
        try:
            if (self._cpu > threshold or self._shed_since[tier] is not None) and self._sheds(
                tier, threshold, now
            ):
                return _SHED
            self._inflight += 1
        finally:
            lock.release()
        return ALLOWED

    def release(self, latency: float) -> None:
        """End an admitted call that took ``latency`` seconds (>= 0), whatever its outcome."""
        if not latency >= 0:  # also refuses NaN, which would poison the capacity estimate
            raise ValueError(f"latency must be >= 0 seconds, got {latency!r}")
        now = self._clock()
        lock = self._lock
        lock.acquire()
        try:
            counter = self._counter
            totals, current, _ = (
                counter.rows if now < counter.next_slot_at else counter.advance_rows(now)
            )
            current[_PASSED] += 1
            totals[_PASSED] += 1
            current[_LATENCY] += latency
            totals[_LATENCY] += latency
            if self._inflight > 0:  # an extra release must not hide real load
                self._inflight -= 1
        finally:
            lock.release()

    def abandon(self) -> None:
        """End an admitted call that never ran (a later check refused it): one call fewer in
        flight, and no latency counted, so the capacity estimate is not skewed. Use it instead
        of :meth:`release`, exactly once."""
        with self._lock:
            if self._inflight > 0:
                self._inflight -= 1

    def _sheds(self, tier: int, threshold: float, now: float) -> bool:
        since = self._shed_since[tier]
        if self._cpu <= threshold:
            if since is None:
                return False
            if now - since > self._cooldown:
                self._shed_since[tier] = None
                return False
        inflight = self._inflight
        if inflight <= 1 or inflight <= self._capacity(now):
            return False
        if since is None:
            for less_critical in range(tier, len(_TIERS) + 1):
                self._shed_since[less_critical] = now
        return True

    def _capacity(self, now: float) -> float:
        """max_inflight, recomputed once per slot from the complete slots of the window."""
        counter = self._counter
        slot = counter.advance(now)
        if slot != self._estimate_slot:
            passed = counter.previous_slots(_PASSED)
            latencies = zip(passed, counter.previous_slots(_LATENCY), strict=True)
            mean_latencies = [total / count for count, total in latencies if count]
            self._estimate = (
                math.floor(max(passed) * min(mean_latencies) * self._per_second + 0.5)
                if mean_latencies
                else math.inf
            )
            self._estimate_slot = slot
        return self._estimate

    def _sample(self, now: float) -> None:
        with self._lock:
            if now < self._next_sample:
                return  # another thread took this sample
            self._next_sample = now + self._sample_interval
        try:
            utilization = float(self._sampler())
        except Exception:
            return  # a broken sampler must never fail a call; the average keeps its value
        if not 0.0 <= utilization <= 1.0:
            return
        with self._lock:
            self._cpu = self._decay * self._cpu + (1.0 - self._decay) * utilization

    def __repr__(self) -> str:
        return (
            f"OverloadGuard(cpu={self._cpu:.3f}, inflight={self._inflight}, "
            f"thresholds={self._thresholds})"
        )


def _validated_thresholds(thresholds: Mapping[int, float]) -> dict[int, float]:
    if sorted(thresholds) != list(_TIERS):
        raise ValueError(
            f"cpu_thresholds must map each tier 1, 2, 3, 4 to a utilization, got {thresholds!r}"
        )
    checked = {
        tier: number(f"cpu_thresholds[{tier}]", thresholds[tier], low=0.0, high=1.0, low_open=True)
        for tier in _TIERS
    }
    for tier in _TIERS[1:]:
        if checked[tier] > checked[tier - 1]:
            raise ValueError(
                f"cpu_thresholds[{tier}] must be <= cpu_thresholds[{tier - 1}] "
                f"({checked[tier - 1]}): less critical tiers shed first, got {checked[tier]}"
            )
    return checked
