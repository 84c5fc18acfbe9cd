"""resilience.pipeline: its cost around a no-op, a retry storm, and hedging against a slow tail.

Three measurements, each against its reference in the same run:

1. ``overhead``: median nanoseconds of ``pipe.call(noop)`` through breaker + rate limit +
   EMA timeout (with the default observers and with none, and behind ``Fallback`` and
   ``Retry(3)``), the same three algorithms called by hand (the floor: what any wrapper must
   at least cost), and pybreaker's ``CircuitBreaker.call(noop)``; rounds interleaved, CPU
   time, ratios to pybreaker.
2. ``storm``: a dependency failing every call under a steady load, driven on a ManualClock:
   attempts it receives per call offered, with ``Retry(3)`` and a 20% budget against the same
   retry with no budget to speak of.
3. ``hedging``: an asyncio dependency whose answers take 10 ms (95%) or 500 ms (5%), on
   virtual time: p50/p99 latency and attempts per call, without and with ``Hedge()`` (p95
   delay, 10% budget).

Run: ``.venv/bin/python benchmarks/pipeline.py [--rounds N] [--number N]``; writes
``benchmarks/results/pipeline.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import statistics
import sys
import time
import timeit
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pybreaker

from resilience.algorithms import EmaTimeout, SlidingWindowLimiter, SreBreaker
from resilience.pipeline import (
    Breaker,
    Fallback,
    Hedge,
    Pipeline,
    RateLimit,
    Retry,
    RetryBudget,
    Timeout,
)
from resilience.pipeline.testing import VirtualTime
from resilience.testing import ManualClock

RESULTS = Path(__file__).parent / "results" / "pipeline.json"


def noop() -> None:
    return None


def overhead(rounds: int, number: int) -> dict[str, Any]:
    """Median ns per call of each variant, rounds interleaved, in CPU time
    (``time.thread_time``: waiting for a core on a loaded host does not count)."""

    def stages() -> list[Any]:
        return [
            Breaker(SreBreaker()),
            RateLimit(SlidingWindowLimiter(10**9, window=3600.0)),
            Timeout(EmaTimeout()),
        ]

    observed = Pipeline(stages(), name="noop")
    quiet = Pipeline(stages(), name="noop", observers=[])
    wrapped = Pipeline(
        [Fallback(None), Retry(3), *stages()], name="noop", observers=[], idempotent=True
    )
    breaker, limiter, ema = SreBreaker(), SlidingWindowLimiter(10**9, window=3600.0), EmaTimeout()
    clock = time.monotonic

    def by_hand() -> None:
        if not breaker.try_acquire().allowed or not limiter.try_acquire().allowed:
            return
        ema.timeout()
        started = clock()
        noop()
        breaker.record(True)
        ema.observe(clock() - started)

    reference = pybreaker.CircuitBreaker()
    variants: dict[str, Callable[[], None]] = {
        "pybreaker CircuitBreaker.call(noop)": lambda: reference.call(noop),
        "algorithms by hand (breaker + limit + EMA timeout)": by_hand,
        "pipe.call(noop), no observers": lambda: quiet.call(noop),
        "pipe.call(noop), default observers": lambda: observed.call(noop),
        "pipe.call(noop) behind Fallback + Retry(3), no observers": lambda: wrapped.call(noop),
    }
    timers = {name: timeit.Timer(fn, timer=time.thread_time) for name, fn in variants.items()}
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, timer in timers.items():
            samples[name].append(timer.timeit(number=number) / number * 1e9)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    base = medians["pybreaker CircuitBreaker.call(noop)"]
    return {
        name: {"ns": round(ns), "x_pybreaker": round(ns / base, 2)} for name, ns in medians.items()
    }


def storm(calls_per_second: int, seconds: int) -> dict[str, Any]:
    """Attempts a 100%-failing dependency receives per call offered."""

    def run(budget: RetryBudget, clock: ManualClock) -> dict[str, float]:
        received = [0]

        def dependency() -> None:
            received[0] += 1
            raise ConnectionError("down")

        pipe = Pipeline(
            [Retry(3, budget=budget, rng=random.Random(1))],
            name="storm",
            idempotent=True,
            observers=[],
            clock=clock,
            sleep=lambda seconds: None,  # the load is steady: backoff does not slow arrivals
        )
        offered = calls_per_second * seconds
        for i in range(offered):
            clock.set(max(clock(), i / calls_per_second))
            with contextlib.suppress(ConnectionError):
                pipe.call(dependency)
        return {"offered": offered, "received": received[0], "per_call": received[0] / offered}

    budgeted_clock, free_clock = ManualClock(), ManualClock()
    return {
        "Retry(3), RetryBudget(0.2, min_retries=10)": run(
            RetryBudget(0.2, min_retries=10, clock=budgeted_clock), budgeted_clock
        ),
        "Retry(3), no budget (ratio 10)": run(
            RetryBudget(10.0, min_retries=0, clock=free_clock), free_clock
        ),
    }


def hedging(calls: int) -> dict[str, Any]:
    """p50/p99 latency and attempts per call, without and with hedging, on virtual time."""

    async def run(hedge: bool) -> dict[str, float]:
        clock = ManualClock()
        virtual = VirtualTime(clock)
        rng = random.Random(7)
        attempts = [0]

        async def dependency() -> None:
            attempts[0] += 1
            await virtual.asleep(0.5 if rng.random() < 0.05 else rng.uniform(0.008, 0.012))

        stages: list[Any] = [Hedge(budget=RetryBudget(0.1, min_retries=10, clock=clock))]
        pipe = Pipeline(
            stages if hedge else [],
            name="tail",
            idempotent=True,
            observers=[],
            clock=clock,
            asleep=virtual.asleep,
        )
        latencies = []
        for _ in range(calls):
            started = clock()
            await pipe.acall(dependency)
            latencies.append(clock() - started)
            clock.advance(0.01)  # the next call arrives a little later
        cuts = statistics.quantiles(latencies, n=100)
        return {
            "p50_ms": round(cuts[49] * 1000, 1),
            "p99_ms": round(cuts[98] * 1000, 1),
            "attempts_per_call": round(attempts[0] / calls, 3),
        }

    return {
        "no hedging": asyncio.run(run(False)),
        "Hedge(percentile=95), RetryBudget(0.1)": asyncio.run(run(True)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--number", type=int, default=20_000)
    parser.add_argument("--calls", type=int, default=2000, help="hedging: calls measured")
    options = parser.parse_args()
    results = {
        "when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_before": os.getloadavg()[0],
        "overhead_ns": overhead(options.rounds, options.number),
        "storm": storm(calls_per_second=100, seconds=60),
        "hedging": hedging(options.calls),
        "load_after": os.getloadavg()[0],
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    json.dump(results, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
