"""The simulated demo: every algorithm driven through a short traffic story on a manual clock.

Deterministic (a manual clock and a seeded random generator) and instant: it prints what each
algorithm decided, one short section each, so a newcomer sees in a minute what the library does.
"""

from __future__ import annotations

import random
from typing import TextIO

from resilience._base.clock import ManualClock
from resilience.algorithms import (
    AdaptiveRetryWindow,
    EmaTimeout,
    OverloadGuard,
    SlidingWindowLimiter,
    SreBreaker,
    TieredLimiter,
)


def run_simulated_demo(out: TextIO) -> None:
    """Print the whole simulated demo to ``out``."""
    out.write(
        "resilience: simulated demo. Every algorithm runs on a manual clock, so six scenarios\n"
        "that span minutes of traffic finish at once and read the same every time.\n"
    )
    for section in (
        _sliding_window,
        _tiered,
        _breaker,
        _ema_timeout,
        _retry_window,
        _overload,
    ):
        out.write("\n")
        section(out)


def _sliding_window(out: TextIO) -> None:
    clock = ManualClock()
    limiter = SlidingWindowLimiter(10, window=1.0, buckets=10, clock=clock)
    out.write(
        "1. SlidingWindowLimiter(limit=10, window=1s): at most 10 requests in any 1-second\n"
        "   window; a rejection says when to retry.\n"
    )
    for at, burst in ((0.0, 25), (0.5, 5), (1.0, 5), (1.3, 8)):
        clock.set(at)
        decisions = [limiter.try_acquire() for _ in range(burst)]
        admitted = sum(decision.allowed for decision in decisions)
        rejected = [decision for decision in decisions if not decision.allowed]
        retry = f", retry after {rejected[0].retry_after:.2f}s" if rejected else ""
        out.write(
            f"   t={at:.1f}s  {burst:2d} requests -> {admitted:2d} admitted, "
            f"{len(rejected):2d} rejected{retry}  (window holds {limiter.count})\n"
        )


def _tiered(out: TextIO) -> None:
    clock = ManualClock()
    limiter = TieredLimiter(100, window=1.0, buckets=10, clock=clock)
    out.write(
        "2. TieredLimiter(limit=100/s): tier 1 is the most critical. Capacity that critical\n"
        "   tiers asked for last second is kept for them; the rest flows down the tiers.\n"
        "   second  demand t1/t2/t3/t4     admitted t1/t2/t3/t4\n"
    )
    for second in range(1, 6):
        demand = (50, 40, 40, 100) if second <= 3 else (150, 40, 40, 100)
        admitted = _tiered_second(limiter, clock, demand)
        out.write(
            f"   {second:6d}  {'/'.join(map(str, demand)):20s}  {'/'.join(map(str, admitted))}\n"
        )
    out.write(
        "   Demand 50/40/40/100 settles at 50/40/10/0; when tier 1 alone wants 150, it gets\n"
        "   all 100 and every other tier is shed.\n"
    )


def _tiered_second(
    limiter: TieredLimiter, clock: ManualClock, demand: tuple[int, ...]
) -> list[int]:
    """Spread one second of ``demand`` (per tier) over its ten slots, interleaved."""
    admitted = [0, 0, 0, 0]
    start = clock()
    for slot in range(10):
        arrivals = sorted(
            ((index + 0.5) / (count // 10), tier)
            for tier, count in enumerate(demand, start=1)
            for index in range(count // 10)
        )
        for position, (_, tier) in enumerate(arrivals):
            clock.set(start + (slot + position / (len(arrivals) + 1)) / 10)
            if limiter.try_acquire(tier).allowed:
                admitted[tier - 1] += 1
    clock.set(start + 1.0)
    return admitted


def _breaker(out: TextIO) -> None:
    clock = ManualClock()
    breaker = SreBreaker(k=2.0, window=10.0, buckets=40, clock=clock, rng=random.Random(7))
    out.write(
        "3. SreBreaker(k=2, window=10s): 50 calls/s; the backend fails every call from\n"
        "   t=4s to t=12s. Once fewer than half the calls in the window succeed, the\n"
        "   breaker drops calls locally (never all of them), and lets them through again\n"
        "   as successes return.\n"
        "   seconds   backend   sent  dropped  succeeded  drop p  state\n"
    )
    sent = dropped = succeeded = 0
    for second in range(30):
        failing = 4 <= second < 12
        for _ in range(50):
            clock.advance(0.02)
            sent += 1
            if not breaker.try_acquire().allowed:
                dropped += 1
                continue
            breaker.record(not failing)
            succeeded += not failing
        if second % 2 == 1:
            out.write(
                f"   {second - 1:2d}-{second + 1:<2d}    {'DOWN' if failing else 'up':7s}  "
                f"{sent:5d}  {dropped:7d}  {succeeded:9d}  {breaker.drop_probability:6.2f}  "
                f"{breaker.state}\n"
            )
            sent = dropped = succeeded = 0


def _ema_timeout(out: TextIO) -> None:
    timeout = EmaTimeout(t_avg=0.060, t_hwm=0.250, t_max=0.500, n=80)
    out.write(
        "4. EmaTimeout(t_avg=60ms, t_hwm=250ms, t_max=500ms): the timeout follows the\n"
        "   average latency: a healthy dependency gets room for its tail, a slow one is cut.\n"
    )
    phases = (
        ("healthy, 40 ms", 0.040, True),
        ("slowing, 150 ms", 0.150, True),
        ("degraded, 300 ms", 0.300, True),
        ("timing out", 0.500, False),
        ("recovered, 40 ms", 0.040, True),
    )
    for label, latency, ok in phases:
        for _ in range(200):
            timeout.observe(latency, ok)
        out.write(
            f"   200 calls {label:17s} -> average {timeout.ema * 1000:5.0f} ms, "
            f"timeout {timeout.timeout() * 1000:4.0f} ms\n"
        )


def _retry_window(out: TextIO) -> None:
    clock = ManualClock()
    window = AdaptiveRetryWindow(period=1.0, success_threshold=0.98, growth_ratio=0.01, clock=clock)
    out.write(
        "5. AdaptiveRetryWindow: how many calls per second may fail over to the remote\n"
        "   center. 1000 local calls a second, more failovers wanted than allowed.\n"
    )
    trace: list[str] = []
    for period in range(9):
        success_rate = 0.5 if period == 7 else 1.0
        for _ in range(1000):
            window.record_request()
        granted = 0
        while granted < 200 and window.try_acquire().allowed:
            granted += 1
        for index in range(granted):
            window.record_retry(index < success_rate * granted)
        trace.append(f"{granted}" + ("*" if success_rate < 1 else ""))
        clock.advance(1.0)
    out.write(
        f"   failovers admitted per second: {', '.join(trace)}\n"
        "   Doubling while under 1% of traffic, then +1% of traffic a second; in the\n"
        "   second marked * half the failovers failed, so the next window is halved.\n"
    )


def warmed_overload_guard() -> tuple[OverloadGuard, SettableCpu, ManualClock]:
    """An OverloadGuard (10 s window, smoothing off) with 10 s of history behind it: 20 calls
    a second, each taking 0.5 s; its CPU is set by hand and its clock stands at 10 s. Shared by
    this demo and the docs' plot script."""
    clock = ManualClock()
    cpu = SettableCpu()
    guard = OverloadGuard(window=10.0, buckets=10, cpu_sampler=cpu, decay=0.0, clock=clock)
    for second in range(10):
        clock.set(float(second))
        for _ in range(20):
            guard.try_acquire(1)
            guard.release(0.5)
    clock.set(10.0)
    return guard, cpu, clock


def _overload(out: TextIO) -> None:
    guard, cpu, clock = warmed_overload_guard()
    out.write(
        "6. OverloadGuard: sheds only while the CPU is over a tier's threshold AND more calls\n"
        f"   are in flight than the server completes (estimate: {guard.max_inflight:.0f}).\n"
        "   Tier thresholds: 1 > 95%, 2 > 90%, 3 > 85%, 4 > 80% (smoothing off for the demo).\n"
        "   CPU    tier 1  tier 2  tier 3  tier 4   (30 calls in flight)\n"
    )
    while guard.inflight < 30:
        guard.try_acquire(1)
    for utilization in (0.50, 0.82, 0.87, 0.92, 0.97):
        cpu.utilization = utilization
        clock.advance(2.0)  # past the cool-down, and a fresh CPU sample
        verdicts = []
        for tier in (1, 2, 3, 4):
            verdicts.append("pass" if guard.try_acquire(tier).allowed else "SHED")
        # The demo releases what passed so the in-flight count stays at 30.
        for verdict in verdicts:
            if verdict == "pass":
                guard.release(0.5)
        out.write(
            f"   {utilization:4.0%}   " + "  ".join(f"{v:6s}" for v in verdicts).rstrip() + "\n"
        )


class SettableCpu:
    """A CPU sampler set by hand: ``utilization`` (0..1) is what it returns."""

    def __init__(self) -> None:
        self.utilization = 0.0

    def __call__(self) -> float:
        return self.utilization
