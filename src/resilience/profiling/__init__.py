"""Load-aware continuous profiling: CPU and heap profiles taken when load says they matter,
labeled by the server call each sample belongs to, written as standard pprof files.

A :class:`Profiler` (built from a policy's ``profiling`` section, see
:class:`~resilience.policy.ProfilingSettings`) samples every thread's stack while a trigger is
on (CPU usage, in-flight calls, a method's p99 latency, with hysteresis), at a low baseline
rate if asked, and on demand; heap profiles come from tracemalloc when memory crosses a
threshold. Files are gzipped ``profile.proto`` (``go tool pprof``, Pyroscope, Grafana,
speedscope read them), kept in a private directory with bounded retention, and optionally
pushed to a Pyroscope-compatible ingest endpoint. See docs/profiling.md.
"""

from __future__ import annotations

from resilience.profiling._pprof import ProfileBuilder, ReadProfile, Sample, labeled, read_profile
from resilience.profiling._profiler import Profiler
from resilience.profiling._shared import shared_profiler
from resilience.profiling._store import ProfileStore

__all__ = [
    "ProfileBuilder",
    "ProfileStore",
    "Profiler",
    "ReadProfile",
    "Sample",
    "labeled",
    "read_profile",
    "shared_profiler",
]
