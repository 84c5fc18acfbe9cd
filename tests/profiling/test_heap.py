"""Heap profiles from tracemalloc: live memory by allocating function, read back by
``go tool pprof``."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from resilience.policy import ProfilingSettings
from resilience.profiling import Profiler, read_profile
from resilience.profiling._heap import heap_profile
from resilience.testing import ManualClock

from .conftest import go_pprof

KEPT: list[bytes] = []


def allocating_handler_for_heap_test() -> None:
    KEPT.extend(bytes(1000) for _ in range(2000))  # ~2 MB kept alive


@pytest.mark.e2e  # runs go tool pprof
def test_the_allocating_function_tops_the_heap_profile(tmp_path: Path) -> None:
    tracemalloc.start(16)
    try:
        allocating_handler_for_heap_test()
        data = heap_profile(tracemalloc.take_snapshot(), time.time_ns())
    finally:
        tracemalloc.stop()
        KEPT.clear()
    profile = read_profile(data)
    assert profile.sample_types == (("inuse_objects", "count"), ("inuse_space", "bytes"))
    biggest = max(profile.samples, key=lambda s: s.values[1])
    assert biggest.values[1] >= 2_000_000
    assert "allocating_handler_for_heap_test" in {frame[0] for frame in biggest.stack[:3]}
    path = tmp_path / "heap.pb.gz"
    path.write_bytes(data)
    top = go_pprof("-top", "-sample_index=inuse_space", str(path))
    assert "allocating_handler_for_heap_test" in top


def test_crossing_the_traced_memory_threshold_writes_a_heap_profile(tmp_path: Path) -> None:
    clock = ManualClock(0.0)
    settings = ProfilingSettings(
        directory=str(tmp_path), heap_traced_bytes=1_000_000, heap_interval=60
    )
    profiler = Profiler(settings, clock=clock)
    tracemalloc.start(16)
    try:
        profiler.step()
        assert profiler.profiles["heap"] == 0  # under the threshold
        allocating_handler_for_heap_test()
        clock.advance(1)
        profiler.step()
        assert profiler.profiles["heap"] == 1
        clock.advance(1)
        profiler.step()
        assert profiler.profiles["heap"] == 1  # at most one per heap_interval
    finally:
        tracemalloc.stop()
        KEPT.clear()
    [path] = profiler.store.files()
    assert Path(path).name.startswith("heap-")
    assert any(
        frame[0] == "allocating_handler_for_heap_test"
        for sample in read_profile(Path(path).read_bytes()).samples
        for frame in sample.stack
    )


def test_crossing_rss_starts_tracing_then_writes(tmp_path: Path) -> None:
    clock = ManualClock(0.0)
    settings = ProfilingSettings(directory=str(tmp_path), heap_rss_bytes=1, heap_seconds=5)
    profiler = Profiler(settings, clock=clock)
    assert not tracemalloc.is_tracing()
    profiler.step()
    assert tracemalloc.is_tracing()  # started by the profiler, for heap_seconds
    allocating_handler_for_heap_test()
    clock.advance(5)
    profiler.step()
    KEPT.clear()
    assert not tracemalloc.is_tracing()  # stopped again
    assert profiler.profiles["heap"] == 1
