"""Several processes share one limit through a real redis-server (bounded: ~4 s of load each).

4 workers offer 1,000 requests/s each against one limit of 2,000/s (window 1 s, 10 slots), for
4 s of which the last 3 are measured (the issue asks for 5 s; shortened to keep the suite quick
on a shared 2-core machine). The truth is read from Redis itself: a monitor thread copies the
per-slot admitted counts out of the limit's ring before they are overwritten.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

import pytest
import redis

from . import workers

LIMIT, WORKERS, RATE, SECONDS = 2000, 4, 1000.0, 4.0


class SlotMonitor:
    """Polls the ring hash of ``key`` every 0.2 s and keeps each slot's latest admitted count
    (channel 0; the layout is described in ring.lua), so that every 10-slot window can be
    summed afterwards."""

    def __init__(self, url: str, key: str) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=2.0, decode_responses=True)
        self._key = key
        self.slots: dict[int, int] = {}
        self.complete: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SlotMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)
        self._client.close()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            fields: dict[str, str] = self._client.hgetall(self._key)  # type: ignore[assignment]
            if "c" not in fields:
                continue
            newest, size = int(fields["c"]), 11  # the ring: slots newest - 10 .. newest
            for position in range(size):
                slot = newest - (newest - position) % size
                self.slots[slot] = int(fields.get(f"{position}:0", 0))
                if slot < newest:
                    self.complete.add(slot)  # read after it ended: its count is final

    def window_sums(self, first: int, last: int, buckets: int = 10) -> dict[int, int]:
        """Admitted in each window of ``buckets`` consecutive slots within [first, last], keyed
        by its first slot; only windows whose every slot was read after it ended (a monitor
        starved for over a second on a loaded machine misses some, and would under-count)."""
        return {
            start: sum(self.slots[s] for s in range(start, start + buckets))
            for start in range(first, last - buckets + 2)
            if all(s in self.complete for s in range(start, start + buckets))
        }


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessPoolExecutor]:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=WORKERS, mp_context=context) as executor:
        list(executor.map(time.sleep, [0] * WORKERS))  # start the workers before timing
        yield executor


def measured_slots(start: float) -> tuple[int, int]:
    """First and last 100 ms slot of the measured period (second 1 to the end, minus a slot)."""
    return int((start + 1.0) * 10) + 1, int((start + SECONDS) * 10) - 1


@pytest.mark.parametrize("mode", ["exact", "periodic"])
def test_four_processes_share_one_limit(
    pool: ProcessPoolExecutor, redis_url: str, prefix: str, mode: str
) -> None:
    start = time.time() + 0.5
    with SlotMonitor(redis_url, f"{{{prefix}:shared}}:w") as monitor:
        futures = [
            pool.submit(workers.run_sliding, redis_url, prefix, mode, LIMIT, RATE, start, SECONDS)
            for _ in range(WORKERS)
        ]
        reports = [future.result(timeout=30) for future in futures]
    assert not any(report.fell_back for report in reports), "Redis was too slow: no measurement"
    first, last = measured_slots(start)
    measured = monitor.window_sums(first, last)
    assert len(measured) >= 5, sorted(monitor.complete)
    # The lower bound is what the workers managed to offer (a shared machine may starve them).
    offered_all = offered_per_window([t for report in reports for t in report.calls], first, last)
    windows = list(measured.values())
    offered = [offered_all[start - first] for start in measured]
    floors = [0.95 * min(LIMIT, count) for count in offered]
    assert all(admitted >= floor for admitted, floor in zip(windows, floors, strict=True)), (
        windows,
        offered,
    )
    ceiling = LIMIT if mode == "exact" else LIMIT * 1.05
    assert max(windows) <= ceiling, windows


def offered_per_window(calls: list[float], first: int, last: int, buckets: int = 10) -> list[int]:
    """Requests made in each window of ``buckets`` 100 ms slots within [first, last]."""
    per_slot: dict[int, int] = {}
    for at in calls:
        per_slot[int(at * 10)] = per_slot.get(int(at * 10), 0) + 1
    return [
        sum(per_slot.get(s, 0) for s in range(begin, begin + buckets))
        for begin in range(first, last - buckets + 2)
    ]


def test_three_gateways_reach_the_tiered_steady_state(
    pool: ProcessPoolExecutor, redis_url: str, prefix: str
) -> None:
    """ALGORITHMS.md's worked steady state scaled by 10 (limit 1,000/s, tier demand
    500/400/400/1,000 per second, spread over 3 processes): admitted 500/400/100/0 per second,
    each within 5% of the limit."""
    mix = (1,) * 5 + (2,) * 4 + (3,) * 4 + (4,) * 10  # 23 requests in these proportions
    rate = 2300 / 3
    start = time.time() + 0.5
    futures = [
        pool.submit(workers.run_tiered, redis_url, prefix, 1000, mix, rate, start, SECONDS)
        for _ in range(3)
    ]
    reports = [future.result(timeout=30) for future in futures]
    assert not any(report.fell_back for report in reports)
    rates = {
        tier: sum(report.admitted[tier] for report in reports) / (SECONDS - 1.0)
        for tier in (1, 2, 3, 4)
    }
    assert rates == pytest.approx({1: 500, 2: 400, 3: 100, 4: 0}, abs=50)
