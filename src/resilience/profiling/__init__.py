"""Load-aware continuous profiling: CPU and heap profiles taken when load says they matter,
labeled by the server call each sample belongs to, written as standard pprof files.

A :class:`Profiler` (built from a policy's ``profiling`` section, see
:class:`~resilience.policy.ProfilingSettings`) samples every thread's stack while a trigger is
on (CPU usage, in-flight calls, a method's p99 latency, with hysteresis), at a low baseline
rate if asked, and on demand; heap profiles come from tracemalloc when memory crosses a
threshold. Files are gzipped ``profile.proto`` (``go tool pprof``, Pyroscope, Grafana,
speedscope read them), kept in a private directory with bounded retention, and optionally
pushed to a Pyroscope-compatible ingest endpoint. :func:`profile_admin_handler` adds an
on-demand ``Profile`` method to the admin service. See docs/profiling.md.
"""

from __future__ import annotations

from resilience.profiling._admin import PROFILE, aio_profile_admin_handler, profile_admin_handler
from resilience.profiling._pprof import ProfileBuilder, ReadProfile, Sample, labeled, read_profile
from resilience.profiling._profiler import Profiler
from resilience.profiling._shared import shared_profiler
from resilience.profiling._store import ProfileStore

__all__ = [
    "PROFILE",
    "ProfileBuilder",
    "ProfileStore",
    "Profiler",
    "ReadProfile",
    "Sample",
    "aio_profile_admin_handler",
    "labeled",
    "profile_admin_handler",
    "read_profile",
    "shared_profiler",
]
