"""The process's profiler when a policy asks for one: one per process, since a sampler sees
every thread anyway. Servers whose policies carry the same ``profiling`` settings share it;
installing different settings replaces it (the last installed wins)."""

from __future__ import annotations

import threading

from resilience.events import register_gauge_source, unregister_gauge_source
from resilience.policy import ProfilingSettings
from resilience.profiling._profiler import Profiler

_lock = threading.Lock()
_current: Profiler | None = None


def shared_profiler(settings: ProfilingSettings) -> Profiler:
    """The running profiler for ``settings``: the current one if its settings are equal, else
    a new one started in its place (the old one closed); its gauges are exported through the
    process-wide gauge registry."""
    global _current
    with _lock:
        current = _current
        if current is not None and current.settings == settings:
            return current
        if current is not None:
            unregister_gauge_source(current)
            current.close()
        _current = Profiler(settings).start()
        register_gauge_source(_current)
        return _current


def current_profiler() -> Profiler | None:
    """The process's shared profiler, or None."""
    return _current


def close_shared_profiler() -> None:
    """Stop and forget the process's shared profiler (tests, shutdown)."""
    global _current
    with _lock:
        current, _current = _current, None
    if current is not None:
        unregister_gauge_source(current)
        current.close()
