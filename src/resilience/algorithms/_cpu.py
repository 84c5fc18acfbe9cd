"""CPU utilization samplers for OverloadGuard: callables returning utilization 0..1 since their
previous call. Reading them is I/O (a small file read), which is why the guard calls one at
most every 500 ms and never under its lock."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

CpuSampler = Callable[[], float]
"""Returns CPU utilization in 0..1 (for the whole machine or the process, the sampler's choice)."""

_PROC_STAT = "/proc/stat"


class ProcStatSampler:
    """Machine-wide utilization from Linux ``/proc/stat``: the share of CPU time, all cores
    together, spent not idle (idle and iowait count as idle) since the previous call. The first
    call measures since boot."""

    __slots__ = ("_busy", "_path", "_total")

    def __init__(self, path: str = _PROC_STAT) -> None:
        self._path = path
        self._busy = 0
        self._total = 0

    def __call__(self) -> float:
        with open(self._path, encoding="ascii") as stat:
            fields = [int(field) for field in stat.readline().split()[1:]]
        total = sum(fields[:8])  # user..steal; guest time is already inside user and nice
        busy = total - fields[3] - (fields[4] if len(fields) > 4 else 0)
        delta_total, delta_busy = total - self._total, busy - self._busy
        self._total, self._busy = total, busy
        return delta_busy / delta_total if delta_total > 0 else 0.0


class ProcessCpuSampler:
    """This process's CPU time since the previous call divided by the wall time times the
    number of cores: a portable stand-in where ``/proc/stat`` is missing."""

    __slots__ = ("_cores", "_cpu", "_wall")

    def __init__(self) -> None:
        self._cores = os.cpu_count() or 1
        self._cpu = time.process_time()
        self._wall = time.monotonic()

    def __call__(self) -> float:
        cpu, wall = time.process_time(), time.monotonic()
        elapsed = wall - self._wall
        used = cpu - self._cpu
        self._cpu, self._wall = cpu, wall
        return min(1.0, used / (elapsed * self._cores)) if elapsed > 0 else 0.0


def default_cpu_sampler() -> CpuSampler:
    """A new :class:`ProcStatSampler` when ``/proc/stat`` is readable, else a new
    :class:`ProcessCpuSampler`."""
    sampler = ProcStatSampler()
    try:
        sampler()
    except (OSError, ValueError, IndexError):
        return ProcessCpuSampler()
    return sampler
