"""The profiler: a daemon thread that checks the load triggers, samples stacks while one is
on (or always at the baseline rate, or on demand), writes a CPU profile per period, and a
heap profile when memory crosses its threshold."""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import tracemalloc
from collections.abc import Callable

from resilience._base.clock import Clock
from resilience.algorithms._cpu import default_cpu_sampler
from resilience.events import GaugeReading
from resilience.policy import ProfilingSettings
from resilience.profiling import _calls
from resilience.profiling._heap import TRACE_FRAMES, heap_profile
from resilience.profiling._sampler import StackSampler
from resilience.profiling._store import ProfileStore, push
from resilience.profiling._trigger import Hysteresis, LatencyWindow, Signal

_log = logging.getLogger("resilience.profiling")
_STATES = ("idle", "baseline", "triggered", "on_demand")


class Profiler:
    """Load-aware profiling as ``settings`` describe it (see :class:`ProfilingSettings`).

    :meth:`start` arms it (the server interceptors register their calls, so samples carry
    ``method``, ``color``, ``tier`` and ``trace_id`` labels) and starts its thread;
    :meth:`close` stops both and writes what was sampled. :meth:`profile_for` asks for a
    profile now. ``cpu``: the CPU usage signal (0..1; default: the sampler the overload guard
    uses, machine-wide on Linux); ``clock``: monotonic seconds; ``wall``: Unix seconds (file
    names and profile times). The thread runs :meth:`step`, which tests call directly.
    """

    def __init__(
        self,
        settings: ProfilingSettings,
        *,
        cpu: Signal | None = None,
        clock: Clock = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.store = ProfileStore(
            settings.directory, max_files=settings.max_files, max_bytes=settings.max_bytes
        )
        self._clock = clock
        self._wall = wall
        self._sampler = StackSampler(settings.max_stacks)
        self._triggers: list[tuple[Hysteresis, Signal]] = []
        s = settings
        if s.cpu_enter is not None and s.cpu_exit is not None:
            reading = cpu if cpu is not None else default_cpu_sampler()
            self._add("cpu", s.cpu_enter, s.cpu_exit, reading)
        if s.inflight_enter is not None and s.inflight_exit is not None:
            self._add("inflight", s.inflight_enter, s.inflight_exit, _inflight)
        self._latency: LatencyWindow | None = None
        if s.latency_method and s.latency_enter is not None and s.latency_exit is not None:
            self._latency = LatencyWindow()
            self._add("latency", s.latency_enter, s.latency_exit, self._p99)
        self._thread: threading.Thread | None = None
        self._stop = False
        self._wake = threading.Event()
        self._on_demand_until = -math.inf
        self._next_check = -math.inf
        self._window: tuple[float, float] | None = None  # (monotonic, wall) start
        self._rate = 0.0
        self._heap_due: float | None = None
        self._heap_last = -math.inf
        self._started_tracing = False
        self.state = "idle"
        """``idle``, ``baseline``, ``triggered`` or ``on_demand``: what sampling runs now."""
        self.cost_seconds = 0.0
        """CPU seconds the profiler's own thread spent sampling and writing."""
        self.profiles = {"cpu": 0, "heap": 0}
        """Profiles written, by kind."""
        self.last_path: str | None = None
        """The most recent profile written, or None."""

    def _add(self, name: str, enter: float, exit: float, signal: Signal) -> None:
        s = self.settings
        self._triggers.append((Hysteresis(name, enter, exit, s.enter_after, s.exit_after), signal))

    def start(self) -> Profiler:
        """Arm call registration and start the sampling thread (idempotent); returns self."""
        _calls.arm()
        if self._latency is not None and self.settings.latency_method:
            _calls.watch_latency(self.settings.latency_method, self._latency.add)
        if self._thread is None:
            self._stop = False
            self._thread = threading.Thread(
                target=self._run, name="resilience-profiler", daemon=True
            )
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop the thread, write the profile being sampled, stop registering calls."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop = True
            self._wake.set()
            thread.join()
        if self.settings.latency_method:
            _calls.watch_latency(self.settings.latency_method, None)
        _calls.disarm()
        self._flush(self._clock())
        if self._started_tracing:
            tracemalloc.stop()
            self._started_tracing = False

    def profile_for(self, seconds: float) -> None:
        """Sample at ``rate`` for the next ``seconds`` (0 < seconds <= 3600) whatever the
        triggers say; the profile is written when that time or the period ends."""
        if not 0 < seconds <= 3600:
            raise ValueError(f"seconds must be in (0, 3600], got {seconds!r}")
        self._on_demand_until = self._clock() + seconds
        self._next_check = -math.inf
        self._wake.set()

    def _run(self) -> None:
        while not self._stop:
            try:
                delay = self.step()
            except Exception:  # never let the profiler die silently
                _log.exception("resilience: profiler step failed")
                delay = self.settings.check_interval
            if self._wake.wait(delay):
                self._wake.clear()

    def step(self) -> float:
        """One turn: check triggers when due, take one sample when sampling, write the
        profile when its period ended; the seconds until the next turn."""
        now = self._clock()
        if now >= self._next_check:
            self._next_check = now + self.settings.check_interval
            self._check(now)
        rate = self._rate
        if rate > 0:
            spent = time.thread_time()
            if self._window is None:
                self._window = (now, self._wall())
            self._sampler.sample(int(1e9 / rate))
            self.cost_seconds += time.thread_time() - spent
        window = self._window
        if window is not None and (rate == 0 or now - window[0] >= self.settings.profile_seconds):
            self._flush(now)
        return min(1.0 / rate if rate > 0 else math.inf, max(0.0, self._next_check - now))

    def _check(self, now: float) -> None:
        triggered = False
        for trigger, signal in self._triggers:
            try:
                value = float(signal())
            except Exception as exc:
                _log.debug("resilience: profiling signal %s failed: %s", trigger.name, exc)
                value = math.nan
            triggered = trigger.update(now, value) or triggered
        s = self.settings
        if now < self._on_demand_until:
            self.state, self._rate = "on_demand", s.rate
        elif triggered and s.enabled:
            self.state, self._rate = "triggered", s.rate
        elif s.baseline_rate > 0 and s.enabled:
            self.state, self._rate = "baseline", s.baseline_rate
        else:
            self.state, self._rate = "idle", 0.0
        if s.heap_rss_bytes is not None or s.heap_traced_bytes is not None:
            self._check_heap(now)

    def _flush(self, now: float) -> None:
        window, self._window = self._window, None
        if window is None or self._sampler.samples == 0:
            self._sampler.encode(0, 0, 0)  # drop idle counts
            return
        spent = time.thread_time()
        duration = max(0, int((now - window[0]) * 1e9))
        rate = self._rate or self.settings.rate
        data = self._sampler.encode(int(1e9 / rate), int(window[1] * 1e9), duration)
        self._save("cpu", data, window[1], window[1] + duration / 1e9, rate)
        self.cost_seconds += time.thread_time() - spent

    def _save(self, kind: str, data: bytes, start: float, end: float, rate: float) -> None:
        path = self.store.write(kind, data, start)
        if path is not None:
            self.profiles[kind] += 1
            self.last_path = path
        if self.settings.push_url is not None:
            try:
                push(
                    self.settings.push_url,
                    f"{self.settings.app_name}.{kind}",
                    data,
                    start,
                    end,
                    rate,
                )
            except Exception as exc:
                self.store.errors += 1
                _log.warning("resilience: could not push the profile: %s", exc)

    def _check_heap(self, now: float) -> None:
        s = self.settings
        if self._heap_due is not None:
            if now >= self._heap_due:
                self._heap_due = None
                self._write_heap(now)
            return
        if now - self._heap_last < s.heap_interval:
            return
        tracing = tracemalloc.is_tracing()
        traced = tracemalloc.get_traced_memory()[0] if tracing else 0
        over_rss = s.heap_rss_bytes is not None and _rss() >= s.heap_rss_bytes
        over_traced = s.heap_traced_bytes is not None and traced >= s.heap_traced_bytes
        if not (over_rss or over_traced):
            return
        self._heap_last = now
        if tracing:
            self._write_heap(now)
        else:  # trace the allocations of the next heap_seconds
            tracemalloc.start(TRACE_FRAMES)
            self._started_tracing = True
            self._heap_due = now + s.heap_seconds

    def _write_heap(self, now: float) -> None:
        spent = time.thread_time()
        wall = self._wall()
        try:
            data = heap_profile(
                tracemalloc.take_snapshot(), int(wall * 1e9), self.settings.max_stacks
            )
        finally:
            if self._started_tracing:
                tracemalloc.stop()
                self._started_tracing = False
        self._save("heap", data, wall, wall + 1, 1.0)
        self.cost_seconds += time.thread_time() - spent

    def _p99(self) -> float:
        return math.nan if self._latency is None else self._latency.quantile(0.99)

    def gauge_readings(self) -> list[GaugeReading]:
        """``profiling.state`` (1 for the current state, 0 for the others), profiles written
        by kind, write/push errors, and the profiler's own CPU seconds."""
        readings = [
            GaugeReading("profiling.state", float(self.state == s), {"state": s}) for s in _STATES
        ]
        readings += [
            GaugeReading("profiling.profiles", float(n), {"kind": kind})
            for kind, n in self.profiles.items()
        ]
        readings.append(GaugeReading("profiling.errors", float(self.store.errors), {}))
        readings.append(GaugeReading("profiling.cpu_seconds", self.cost_seconds, {}))
        return readings


def _inflight() -> float:
    return float(_calls.inflight())


def _rss() -> int:
    """This process's resident set size, bytes (Linux ``/proc/self/statm``; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


try:
    _PAGE = os.sysconf("SC_PAGE_SIZE")
except (ValueError, OSError, AttributeError):
    _PAGE = 4096
