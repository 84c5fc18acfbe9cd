"""Cost per decision of the shared limiters, with the references measured in the same run.

Rows, timed in interleaved rounds (medians; exact over PING also as the median of each round's
ratio, steadier on a busy machine): the in-memory ``SlidingWindowLimiter`` (the
baseline periodic mode is compared with), ``SharedSlidingWindowLimiter`` in periodic mode (its
background sync running) and in exact mode on a real redis-server, limits' Redis
``SlidingWindowCounterRateLimiter.hit`` and a bare redis-py ``PING`` (the round trip exact mode
is compared with). Then the accuracy of periodic mode, simulated deterministically: 4 instances
sharing 2,000/s over a MemoryStore with staggered 100 ms syncs.

Targets: periodic adds <= 2 us per decision over memory; exact costs <= 1.2x a PING.
Starts its own ``redis-server`` on a free loopback port unless ``--redis-url`` is given. Writes
``benchmarks/results/distributed_limiter.json``.

Run: ``.venv/bin/python benchmarks/distributed_limiter.py [--rounds N]`` (about 20 s).
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
import timeit
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import redis
from limits import parse, storage, strategies

from resilience._base.clock import ManualClock
from resilience.algorithms import SlidingWindowLimiter
from resilience.backends import MemoryStore, RedisStore, SharedSlidingWindowLimiter

RESULTS = Path(__file__).parent / "results" / "distributed_limiter.json"
HUGE = 10**9
"""A limit nothing reaches: every timed decision takes the accept path."""


@contextmanager
def redis_server(url: str | None) -> Iterator[str]:
    """``url`` as given, or a fresh loopback redis-server (stopped afterwards)."""
    if url:
        yield url
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    command = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = redis.Redis(port=port)
        for _ in range(250):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.02)
        client.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.kill()
        process.wait(5)


def per_call_ns(call: Callable[[], object], number: int) -> float:
    """Nanoseconds per call of ``call`` over ``number`` calls."""
    return timeit.timeit(call, number=number) / number * 1e9


def measure(url: str, rounds: int, fast: int, slow: int) -> dict[str, Any]:
    """Median ns per decision of every row, rounds interleaved."""
    memory = SlidingWindowLimiter(HUGE)
    # A generous socket timeout: a fallback would time the local limiter, not the store.
    store = RedisStore.from_url(url, prefix="bench", socket_timeout=1.0)
    periodic = SharedSlidingWindowLimiter(store, name="periodic", limit=HUGE)
    exact = SharedSlidingWindowLimiter(store, name="exact", limit=HUGE, mode="exact")
    limits_storage = storage.RedisStorage(url)
    limits_limiter = strategies.SlidingWindowCounterRateLimiter(limits_storage)
    limits_item = parse(f"{HUGE}/second")
    client = redis.Redis.from_url(url)
    rows: dict[str, Callable[[], object]] = {
        "memory": memory.try_acquire,
        "periodic": periodic.try_acquire,
        "exact": exact.try_acquire,
        "limits": lambda: limits_limiter.hit(limits_item, "bench"),
        "ping": client.ping,
    }
    counts = {"memory": fast, "periodic": fast, "exact": slow, "limits": slow, "ping": slow}
    for name, call in rows.items():  # warm up: connections, scripts, the sync thread
        per_call_ns(call, counts[name] // 10 or 1)
    samples: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(rounds):
        for name, call in rows.items():
            samples[name].append(per_call_ns(call, counts[name]))
    fell_back = periodic.fallback or exact.fallback
    periodic.close()
    exact.close()
    store.close()
    client.close()
    paired = [e / p for e, p in zip(samples["exact"], samples["ping"], strict=True)]
    return {
        "median_ns": {name: statistics.median(values) for name, values in samples.items()},
        "exact_x_ping_paired": statistics.median(paired),
        "samples_ns": samples,
        "fell_back": fell_back,
    }


def simulated_accuracy(demand_each: int, instances: int = 4, limit: int = 2000) -> dict[str, float]:
    """Admitted per 1 s window / limit, fewest and most, for ``instances`` periodic limiters on
    one MemoryStore, each offered ``demand_each`` requests/s, syncing every 100 ms at staggered
    phases; 5 s simulated, the first 1.5 s not measured."""
    clock = ManualClock(100.0)
    store = MemoryStore(clock=clock)
    limiters = [
        SharedSlidingWindowLimiter(store, name="sim", limit=limit, sync_interval=3600, clock=clock)
        for _ in range(instances)
    ]
    owed = [0.0] * instances
    admitted: list[float] = []
    for tick in range(5000):
        clock.advance(0.001)
        for i, limiter in enumerate(limiters):
            owed[i] += demand_each * 0.001
            while owed[i] >= 1:
                owed[i] -= 1
                if limiter.try_acquire().allowed:
                    admitted.append(clock())
            if tick % 100 == 100 * i // instances:
                limiter.sync_now()
    counts = []
    at = 101.5
    while at + 1.0 <= 105.0:
        counts.append(bisect.bisect_left(admitted, at + 1.0) - bisect.bisect_left(admitted, at))
        at += 0.01
    return {"fewest": min(counts) / limit, "most": max(counts) / limit}


def table(result: dict[str, Any], accuracy: dict[str, dict[str, float]]) -> str:
    ns = result["median_ns"]
    lines = [
        "| decision | median us | decisions/s per process | vs memory | x PING |",
        "|---|---:|---:|---:|---:|",
    ]
    labels = {
        "memory": "SlidingWindowLimiter (memory)",
        "periodic": "SharedSlidingWindowLimiter, periodic (Redis)",
        "exact": "SharedSlidingWindowLimiter, exact (Redis)",
        "limits": "*reference:* limits Redis SlidingWindowCounter.hit",
        "ping": "*reference:* redis-py PING",
    }
    for name, label in labels.items():
        added = ns[name] - ns["memory"]
        lines.append(
            f"| {label} | {ns[name] / 1000:.2f} | {1e9 / ns[name]:,.0f} | "
            f"{'+' if added >= 0 else ''}{added / 1000:.2f} us | {ns[name] / ns['ping']:.2f} |"
        )
    lines += ["", "| periodic accuracy (simulated, 4 instances, limit 2,000/s) | fewest | most |"]
    lines += ["|---|---:|---:|"]
    for label, value in accuracy.items():
        lines.append(f"| {label} | {value['fewest']:.3f} | {value['most']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--fast", type=int, default=50_000, help="calls per round, in-process rows")
    parser.add_argument("--slow", type=int, default=2_000, help="calls per round, Redis rows")
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args(argv)
    with redis_server(args.redis_url) as url:
        result = measure(url, args.rounds, args.fast, args.slow)
    accuracy = {
        f"offered {demand:,}/s each ({demand * 4 / 2000:g}x the limit)": simulated_accuracy(demand)
        for demand in (1000, 5000, 20_000)
    }
    ns = result["median_ns"]
    verdict = {
        "periodic_added_us": (ns["periodic"] - ns["memory"]) / 1000,
        "periodic_target_met": ns["periodic"] - ns["memory"] <= 2000,
        "exact_x_ping": ns["exact"] / ns["ping"],
        "exact_x_ping_paired": result["exact_x_ping_paired"],
        "exact_target_met": ns["exact"] <= 1.2 * ns["ping"],
    }
    print(table(result, accuracy))
    print(json.dumps(verdict, indent=2))
    if result["fell_back"]:
        print("warning: a limiter fell back during the run; its rows time the local fallback")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "machine": {
                    "python": sys.version.split()[0],
                    "platform": platform.platform(),
                    "cpus": os.cpu_count(),
                    "load_average": os.getloadavg(),
                },
                **result,
                "accuracy": accuracy,
                "verdict": verdict,
            },
            indent=2,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
