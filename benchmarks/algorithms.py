"""Median nanoseconds per hot-path operation of resilience.algorithms, with references.

pybreaker's ``CircuitBreaker.call(noop)`` and limits' in-memory
``SlidingWindowCounterRateLimiter.hit`` (accept and reject) are measured in the same run, rounds
interleaved with ours, so the ratios hold even when the machine's speed drifts. Prints a table
and writes ``benchmarks/results/algorithms.json``.

Run: ``make bench`` or ``.venv/bin/python benchmarks/algorithms.py [--rounds N] [--number N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
import timeit
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pybreaker
from limits import parse, storage, strategies

from resilience.algorithms import (
    AdaptiveRetryWindow,
    EmaTimeout,
    OverloadGuard,
    SlidingWindowLimiter,
    SreBreaker,
    TieredLimiter,
)

RESULTS = Path(__file__).parent / "results" / "algorithms.json"
HOUR = 3600.0
"""Windows in the reject cases are an hour long so that nothing expires during the run."""


@dataclass(frozen=True)
class Case:
    """One timed statement: ``stmt`` runs against ``namespace``; ``reference`` names the
    limits path (accept or reject) it is compared with, if any."""

    name: str
    stmt: str
    namespace: dict[str, Any]
    reference: str | None = None


def case(name: str, stmt: str, reference: str | None = None, **names: Any) -> Case:
    """A case timing ``stmt`` with ``names`` in scope."""
    return Case(name, stmt, names, reference)


def settable_clock(now: float) -> tuple[Callable[[], float], list[float]]:
    """A clock that stands still at ``cell[0]`` until set: for cases whose state needs history.
    One call and one subscript, about what time.monotonic costs."""
    cell = [now]
    return (lambda: cell[0]), cell


def our_cases() -> list[Case]:
    accept_limiter = SlidingWindowLimiter(10**9, HOUR)
    reject_limiter = SlidingWindowLimiter(1, HOUR)
    reject_limiter.try_acquire()

    tiered = TieredLimiter(10**9, HOUR)
    tiered_reject = TieredLimiter(1, HOUR)
    tiered_reject.try_acquire(1)
    clock, cell = settable_clock(0.0)
    tiered_shed = TieredLimiter(10, 1.0, 10, clock=clock)
    for _ in range(10):
        tiered_shed.try_acquire(1)
    cell[0] = 1.0  # tier 1 asked for the whole limit in the last complete window: tier 4 is shed

    healthy = SreBreaker(k=1e9, min_requests=0)  # a few successes keep p at 0 for the whole run
    for _ in range(10):
        healthy.try_acquire()
        healthy.record(True)
    paired = SreBreaker()
    dropping = SreBreaker(max_drop=1.0, probe_interval=HOUR, min_requests=0)
    for _ in range(100):
        dropping.try_acquire()

    timeout = EmaTimeout()
    window = AdaptiveRetryWindow(initial=10**9)
    used_up = AdaptiveRetryWindow(period=HOUR)
    used_up.try_acquire()

    calm = OverloadGuard(cpu_sampler=lambda: 0.0)
    hot = hot_guard()

    return [
        case(
            "SlidingWindowLimiter.try_acquire",
            "accept()",
            reference="accept",
            accept=accept_limiter.try_acquire,
        ),
        case(
            "SlidingWindowLimiter.try_acquire (reject)",
            "reject()",
            reference="reject",
            reject=reject_limiter.try_acquire,
        ),
        case(
            "TieredLimiter.try_acquire(1)",
            "acquire(1)",
            reference="accept",
            acquire=tiered.try_acquire,
        ),
        case(
            "TieredLimiter.try_acquire(4)",
            "acquire(4)",
            reference="accept",
            acquire=tiered.try_acquire,
        ),
        case(
            "TieredLimiter.try_acquire(4) (shed)",
            "acquire(4)",
            reference="reject",
            acquire=tiered_shed.try_acquire,
        ),
        case(
            "TieredLimiter.try_acquire(1) (rate_limit)",
            "acquire(1)",
            reference="reject",
            acquire=tiered_reject.try_acquire,
        ),
        case("SreBreaker.try_acquire", "acquire()", acquire=healthy.try_acquire),
        case("SreBreaker.try_acquire (drop)", "acquire()", acquire=dropping.try_acquire),
        case("SreBreaker.record(True)", "record(True)", record=healthy.record),
        case(
            "SreBreaker.try_acquire + record(True)",
            "acquire(); record(True)",
            acquire=paired.try_acquire,
            record=paired.record,
        ),
        case("EmaTimeout.observe", "observe(0.05)", observe=timeout.observe),
        case("EmaTimeout.timeout", "timeout()", timeout=timeout.timeout),
        case("AdaptiveRetryWindow.record_request", "record()", record=window.record_request),
        case("AdaptiveRetryWindow.try_acquire", "acquire()", acquire=window.try_acquire),
        case("AdaptiveRetryWindow.try_acquire (reject)", "acquire()", acquire=used_up.try_acquire),
        case("AdaptiveRetryWindow.record_retry", "record(True)", record=window.record_retry),
        case("OverloadGuard.try_acquire", "acquire(1)", acquire=calm.try_acquire),
        case("OverloadGuard.try_acquire (shed)", "acquire(4)", acquire=hot.try_acquire),
        case(
            "OverloadGuard.try_acquire + release",
            "acquire(1); release(0.01)",
            acquire=calm.try_acquire,
            release=calm.release,
        ),
    ]


def hot_guard() -> OverloadGuard:
    """A guard at 99 % CPU that completed 10 one-second calls per second for 10 s (capacity 10
    in flight) and now has 11 in flight: every further call of tier 4 is shed."""
    clock, cell = settable_clock(0.0)
    guard = OverloadGuard(window=10.0, buckets=10, cpu_sampler=lambda: 0.99, decay=0.0, clock=clock)
    for second in range(10):
        cell[0] = float(second)
        for _ in range(10):
            guard.try_acquire(1)
            guard.release(1.0)
    cell[0] = 10.0
    while guard.try_acquire(4).allowed:
        pass
    return guard


def reference_cases() -> list[Case]:
    breaker = pybreaker.CircuitBreaker()
    limiter = strategies.SlidingWindowCounterRateLimiter(storage.MemoryStorage())
    roomy, tight = parse("1000000000/hour"), parse("1/hour")
    limiter.hit(tight, "reject")

    def noop() -> None:
        return None

    return [
        case("pybreaker CircuitBreaker.call(noop)", "call(noop)", call=breaker.call, noop=noop),
        case(
            "limits SlidingWindowCounter hit (accept)",
            "hit(roomy, 'accept')",
            hit=limiter.hit,
            roomy=roomy,
        ),
        case(
            "limits SlidingWindowCounter hit (reject)",
            "hit(tight, 'reject')",
            hit=limiter.hit,
            tight=tight,
        ),
    ]


def measure(
    cases: list[Case], rounds: int, number: int, clock: Callable[[], float] = time.perf_counter
) -> dict[str, list[float]]:
    """ns per operation for every case and round; rounds interleave the cases. ``clock``:
    wall time by default, ``time.thread_time`` for CPU time (a loaded host)."""
    timers = {
        case.name: timeit.Timer(case.stmt, globals=case.namespace, timer=clock) for case in cases
    }
    samples: dict[str, list[float]] = {name: [] for name in timers}
    for _ in range(rounds):
        for name, timer in timers.items():
            samples[name].append(timer.timeit(number) / number * 1e9)
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=9, help="timed rounds per case (median)")
    parser.add_argument("--number", type=int, default=50_000, help="operations per round")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON")
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="time CPU (time.thread_time) instead of wall time: waiting for a core on a loaded "
        "host does not count",
    )
    args = parser.parse_args(argv)

    ours, references = our_cases(), reference_cases()
    random.seed(0)
    clock = time.thread_time if args.cpu else time.perf_counter
    samples = measure(ours + references, args.rounds, args.number, clock)
    median = {name: statistics.median(values) for name, values in samples.items()}
    pybreaker_ns = median[references[0].name]
    limits_ns = {"accept": median[references[1].name], "reject": median[references[2].name]}

    rows = []
    for case in ours:
        ns = median[case.name]
        rows.append(
            {
                "operation": case.name,
                "median_ns": round(ns, 1),
                "min_ns": round(min(samples[case.name]), 1),
                "x_pybreaker_call": round(ns / pybreaker_ns, 3),
                "x_limits_hit": round(ns / limits_ns[case.reference], 3)
                if case.reference
                else None,
            }
        )
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "timer": "thread_time" if args.cpu else "perf_counter",
        "rounds": args.rounds,
        "number": args.number,
        "references": {case.name: round(median[case.name], 1) for case in references},
        "results": rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)
    print(f"\nsaved {args.output}")
    return 0


def print_table(report: dict[str, Any]) -> None:
    print(f"{report['date']}  Python {report['python']}  {report['machine']}")
    print(
        f"load average {report['load_average']}; "
        f"median of {report['rounds']} rounds x {report['number']} operations"
    )
    print(f"\n| {'operation':45} | {'median ns':>9} | {'x pybreaker':>11} | {'x limits':>8} |")
    print(f"|{'-' * 47}|{'-' * 10}:|{'-' * 12}:|{'-' * 9}:|")
    for row in report["results"]:
        limits_ratio = "" if row["x_limits_hit"] is None else f"{row['x_limits_hit']:.2f}"
        print(
            f"| {row['operation']:45} | {row['median_ns']:9.0f} "
            f"| {row['x_pybreaker_call']:11.2f} | {limits_ratio:>8} |"
        )
    for name, ns in report["references"].items():
        print(f"| {name:45} | {ns:9.0f} |             |          |")


if __name__ == "__main__":
    sys.exit(main())
