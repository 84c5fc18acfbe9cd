"""Regenerate docs/img/<algorithm>-*.png: each algorithm driven through a short story.

Run from the repository root: ``python docs/scripts/plot_algorithms.py [--out DIR]``. Every
scenario runs the library's own classes on a :class:`resilience.testing.ManualClock` with a
seeded random generator, so the pictures are deterministic and take about a second to draw.
The scenarios follow ``resilience demo --simulated`` (src/resilience/tools/cli/demo_simulated.py),
stretched over time so that each plot shows the algorithm's state as it moves.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from resilience.algorithms import (
    AdaptiveRetryWindow,
    EmaTimeout,
    OverloadGuard,
    SlidingWindowLimiter,
    SreBreaker,
    TieredLimiter,
)
from resilience.testing import ManualClock
from resilience.tools.cli.demo_simulated import SettableCpu, warmed_overload_guard

OUT = Path(__file__).resolve().parent.parent / "img"
TIER_COLORS = ("#1b5e20", "#1565c0", "#ef6c00", "#b71c1c")


def _figure(title: str) -> tuple[Any, Any]:
    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=100)
    ax.set_title(title, fontsize=11)
    ax.grid(alpha=0.3)
    return fig, ax


def _save(fig: Any, out: Path, name: str) -> Path:
    path = out / name
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})  # no version stamp: stable bytes
    plt.close(fig)
    return path


def sliding_window(out: Path) -> Path:
    """SlidingWindowLimiter(100/s): 60/s steady, a burst of 250 at t=2 s, then 150/s."""
    clock = ManualClock()
    limiter = SlidingWindowLimiter(100, window=1.0, buckets=10, clock=clock)
    slots = 60  # 6 s in 100 ms slots
    offered = [0] * slots
    admitted = [0] * slots
    count = [0.0] * slots
    for slot in range(slots):
        start = slot * 0.1
        rate = 6 if start < 3.0 else 15
        arrivals = [start + (i + 0.5) * 0.1 / rate for i in range(rate)]
        if slot == 20:
            arrivals += [start + 0.05] * 250
        for at in sorted(arrivals):
            clock.set(at)
            offered[slot] += 1
            admitted[slot] += limiter.try_acquire().allowed
        clock.set(start + 0.0999)
        count[slot] = limiter.count
    times = [slot * 0.1 for slot in range(slots)]
    fig, ax = _figure("SlidingWindowLimiter(limit=100, window=1s, buckets=10)")
    ax.bar(times, offered, width=0.09, align="edge", color="#cfd8dc", label="offered / 100 ms")
    ax.bar(times, admitted, width=0.09, align="edge", color="#1565c0", label="admitted / 100 ms")
    ax.step([t + 0.1 for t in times], count, where="pre", color="#b71c1c", label="sliding count")
    ax.axhline(100, color="#b71c1c", linestyle="--", linewidth=1, label="limit")
    ax.set_xlabel("seconds")
    ax.set_ylabel("requests")
    ax.set_ylim(0, 140)
    ax.annotate(
        "a burst of 250 (bar clipped): only\nthe room left under the limit passes",
        xy=(2.05, 45),
        xytext=(0.1, 112),
        arrowprops={"arrowstyle": "->"},
        fontsize=9,
    )
    ax.legend(loc="center right", fontsize=8, ncol=2)
    return _save(fig, out, "sliding-window-burst.png")


def _tiered_second(
    limiter: TieredLimiter, clock: ManualClock, demand: tuple[int, ...]
) -> list[int]:
    """One second of per-tier ``demand``, interleaved evenly; returns admitted per tier."""
    admitted = [0, 0, 0, 0]
    start = clock()
    arrivals = sorted(
        ((index + 0.5) / count, tier)
        for tier, count in enumerate(demand, start=1)
        for index in range(count)
    )
    for offset, tier in arrivals:
        clock.set(start + offset)
        admitted[tier - 1] += limiter.try_acquire(tier).allowed
    clock.set(start + 1.0)
    return admitted


def tiered(out: Path) -> Path:
    """TieredLimiter(100/s): demand 50/40/40/100, then tier 1 alone asks for 150."""
    clock = ManualClock()
    limiter = TieredLimiter(100, window=1.0, buckets=10, clock=clock)
    seconds = 12
    rows = []
    for second in range(seconds):
        demand = (50, 40, 40, 100) if second < 8 else (150, 40, 40, 100)
        rows.append(_tiered_second(limiter, clock, demand))
    fig, ax = _figure("TieredLimiter(limit=100/s): admitted per tier and second")
    bottom = [0] * seconds
    for tier in range(4):
        values = [row[tier] for row in rows]
        ax.bar(
            range(1, seconds + 1),
            values,
            bottom=bottom,
            color=TIER_COLORS[tier],
            label=f"tier {tier + 1}",
        )
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.axhline(100, color="black", linestyle="--", linewidth=1)
    ax.axvline(8.5, color="grey", linewidth=1)
    ax.text(1, 108, "demand 50 / 40 / 40 / 100 -> admitted 50 / 40 / 10 / 0", fontsize=9)
    ax.text(8.7, 108, "tier 1 wants 150", fontsize=9)
    ax.set_ylim(0, 120)
    ax.set_xlabel("second")
    ax.set_ylabel("admitted requests")
    ax.legend(loc="lower left", fontsize=8, ncol=4)
    return _save(fig, out, "tiered-admitted.png")


def breaker(out: Path) -> Path:
    """SreBreaker(k=2): 50 calls/s, the backend fails every call from 10 s to 25 s."""
    clock = ManualClock()
    sre = SreBreaker(k=2.0, window=10.0, buckets=40, clock=clock, rng=random.Random(7))
    times, drop_p, dropped_share = [], [], []
    per_half_second = 25
    for half in range(120):  # 60 s
        failing = 10.0 <= half / 2 < 25.0
        dropped = 0
        for _ in range(per_half_second):
            clock.advance(0.5 / per_half_second)
            if not sre.try_acquire().allowed:
                dropped += 1
                continue
            sre.record(not failing)
        times.append((half + 1) / 2)
        drop_p.append(sre.drop_probability)
        dropped_share.append(dropped / per_half_second)
    fig, ax = _figure("SreBreaker(k=2, window=10s): a 15 s outage at 50 calls/s")
    ax.axvspan(10, 25, color="#ffcdd2", label="backend failing every call")
    ax.plot(times, drop_p, color="#b71c1c", label="drop probability p")
    ax.step(
        times,
        dropped_share,
        where="pre",
        color="#1565c0",
        alpha=0.7,
        label="share dropped locally (per 0.5 s)",
    )
    ax.axhline(0.9, color="grey", linestyle=":", linewidth=1, label="max_drop 0.9")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("seconds")
    ax.set_ylabel("probability / share")
    ax.legend(loc="upper right", fontsize=8)
    return _save(fig, out, "breaker-drop.png")


def ema_timeout(out: Path) -> Path:
    """EmaTimeout defaults: latency healthy, slowing, degraded, timing out, recovered."""
    timeout = EmaTimeout(t_avg=0.060, t_hwm=0.250, t_max=0.500, n=80)
    rng = random.Random(3)
    phases = ((0.040, True), (0.150, True), (0.300, True), (0.500, False), (0.040, True))
    latency, ema, limit = [], [], []
    for mean, ok in phases:
        for _ in range(200):
            sample = mean if not ok else max(0.001, rng.gauss(mean, mean * 0.25))
            timeout.observe(sample, ok)
            latency.append(sample * 1000)
            ema.append(timeout.ema * 1000)
            limit.append(timeout.timeout() * 1000)
    calls = range(1, len(latency) + 1)
    fig, ax = _figure("EmaTimeout(t_avg=60ms, t_hwm=250ms, t_max=500ms, n=80)")
    ax.scatter(calls, latency, s=2, color="#90a4ae", label="call latency")
    ax.plot(calls, ema, color="#1565c0", label="EMA of latency")
    ax.plot(calls, limit, color="#b71c1c", linewidth=2, label="timeout()")
    for value, name in ((60, "t_avg"), (250, "t_hwm"), (500, "t_max")):
        ax.axhline(value, color="grey", linestyle=":", linewidth=1)
        ax.text(1005, value, name, fontsize=8, va="center")
    for index, text in enumerate(("healthy", "slowing", "degraded", "failing", "recovered")):
        ax.text(index * 200 + 100, 560, text, fontsize=9, ha="center")
    ax.set_ylim(0, 600)
    ax.set_xlabel("call")
    ax.set_ylabel("milliseconds")
    ax.legend(loc="center left", fontsize=8)
    return _save(fig, out, "ema-timeout.png")


def retry_window(out: Path) -> Path:
    """AdaptiveRetryWindow: the worked trace (t = 1000 a period) and one bad period."""
    clock = ManualClock()
    window = AdaptiveRetryWindow(period=1.0, success_threshold=0.98, growth_ratio=0.01, clock=clock)
    granted_per_period, bad = [], 9
    for period in range(16):
        success_rate = 0.5 if period == bad else 1.0
        for _ in range(1000):
            window.record_request()
        granted = 0
        while granted < 200 and window.try_acquire().allowed:
            granted += 1
        for index in range(granted):
            window.record_retry(index < success_rate * granted)
        granted_per_period.append(granted)
        clock.advance(1.0)
    periods = range(len(granted_per_period))
    fig, ax = _figure("AdaptiveRetryWindow: failovers admitted per period (1000 local calls)")
    colors = ["#b71c1c" if p == bad else "#1565c0" for p in periods]
    ax.bar(periods, granted_per_period, color=colors)
    for period, value in zip(periods, granted_per_period, strict=True):
        ax.text(period, value + 1, str(value), ha="center", fontsize=8)
    ax.text(
        bad,
        granted_per_period[bad] + 12,
        "half failed:\nnext halves",
        ha="center",
        fontsize=8,
        color="#b71c1c",
    )
    ax.set_xlabel("period (1 s)")
    ax.set_ylabel("retries admitted")
    ax.set_ylim(0, max(granted_per_period) + 35)
    return _save(fig, out, "retry-window.png")


def overload(out: Path) -> Path:
    """OverloadGuard: which tiers pass as the CPU rises, with many calls in flight."""
    guard, cpu, clock = warmed_overload_guard()  # the simulated demo's guard and history
    estimate = guard.max_inflight
    while guard.inflight < 30:
        guard.try_acquire(1)
    levels = [0.70 + 0.005 * step for step in range(61)]
    passed: list[list[float]] = [[], [], [], []]
    for level in levels:
        cpu.utilization = 0.5  # one cool second of the same traffic keeps the history fresh
        clock.advance(1.1)
        for _ in range(20):
            guard.try_acquire(1)
            guard.release(0.5)
        cpu.utilization = level
        clock.advance(0.6)  # a fresh CPU sample
        for tier in (1, 2, 3, 4):
            allowed = guard.try_acquire(tier).allowed
            if allowed:
                guard.release(0.5)
            passed[tier - 1].append(1.0 if allowed else 0.0)
    fig, ax = _figure("OverloadGuard: tiers shed as CPU rises (30 calls in flight)")
    for tier in range(4):
        band = [tier + 0.1 + 0.8 * value for value in passed[tier]]
        ax.fill_between(
            [lvl * 100 for lvl in levels],
            tier + 0.1,
            band,
            step="mid",
            color=TIER_COLORS[tier],
            alpha=0.85,
        )
    for tier, threshold in zip(range(4), (95, 90, 85, 80), strict=True):
        ax.axvline(threshold, color=TIER_COLORS[tier], linestyle=":", linewidth=1)
    ax.set_yticks([0.5, 1.5, 2.5, 3.5], ["tier 1", "tier 2", "tier 3", "tier 4"])
    ax.set_xlabel("smoothed CPU utilization, % (filled: admitted, empty: shed)")
    ax.set_xlim(70, 100)
    ax.text(71, 3.5, f"capacity estimate: {estimate:.0f} in flight", fontsize=8)
    return _save(fig, out, "overload-shedding.png")


def overload_smoothing(out: Path) -> Path:
    """OverloadGuard defaults: how the smoothed CPU follows a jump from idle to 100 %."""
    clock = ManualClock()
    cpu = SettableCpu()
    guard = OverloadGuard(cpu_sampler=cpu, clock=clock)
    times, raw, smooth = [], [], []
    for step in range(81):  # 40 s in 0.5 s steps
        clock.set(step * 0.5)
        cpu.utilization = 1.0 if 5.0 <= step * 0.5 < 30.0 else 0.1
        guard.try_acquire(4)
        guard.release(0.01)
        times.append(step * 0.5)
        raw.append(cpu.utilization * 100)
        smooth.append(guard.cpu * 100)
    fig, ax = _figure("OverloadGuard CPU smoothing (decay 0.95, a sample every 0.5 s)")
    ax.step(times, raw, where="post", color="#90a4ae", label="sampled CPU")
    ax.plot(times, smooth, color="#b71c1c", label="smoothed CPU")
    for tier, threshold in zip(range(4), (95, 90, 85, 80), strict=True):
        ax.axhline(threshold, color=TIER_COLORS[tier], linestyle=":", linewidth=1)
        ax.text(40.5, threshold, f"tier {tier + 1}", fontsize=8, va="center")
    ax.set_xlabel("seconds")
    ax.set_ylabel("CPU %")
    ax.set_ylim(0, 105)
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, out, "overload-smoothing.png")


PLOTS: tuple[Callable[[Path], Path], ...] = (
    sliding_window,
    tiered,
    breaker,
    ema_timeout,
    retry_window,
    overload,
    overload_smoothing,
)


def main(argv: list[str] | None = None) -> int:
    """Write every plot into ``--out`` (default docs/img); print the paths."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for plot in PLOTS:
        print(plot(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
