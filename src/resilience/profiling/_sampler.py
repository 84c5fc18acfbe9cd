"""Stack sampling: every thread's Python stack (``sys._current_frames``), aggregated by
(stack, call labels) into bounded memory and encoded as a pprof CPU profile.

What a sample measures: a thread found running Python code other than a known idle wait
(a worker pool's queue, a selector, a condition wait, gRPC's completion-queue poll) counts
one interval of ``cpu`` nanoseconds. It is wall-clock sampling of busy threads, as py-spy and
Pyroscope's Python agents do it by default, not the kernel's CPU accounting: a handler blocked
in ``time.sleep`` or a socket read still counts (its Python frame is the innermost one).
"""

from __future__ import annotations

import os
import sys
import threading
from types import CodeType, FrameType

from resilience.profiling import _calls
from resilience.profiling._pprof import Frame, ProfileBuilder

MAX_DEPTH = 128
"""Frames kept per sample, innermost first (deeper ones are cut)."""

_IDLE: frozenset[tuple[str, str]] = frozenset(
    {
        ("threading.py", "wait"),
        ("threading.py", "_wait_for_tstate_lock"),
        ("selectors.py", "select"),
        ("queue.py", "get"),
        ("thread.py", "_worker"),  # concurrent.futures: waiting on its work queue
        ("_server.py", "_serve"),  # grpc: polling its completion queue
        ("_server.py", "wait_for_termination"),
        ("base_events.py", "_run_once"),
        ("_channel.py", "_blocking"),  # grpc: a sync client waiting for its answer
    }
)
"""(file base name, function) of innermost frames that mean the thread waits for work."""

_TRUNCATED: Frame = ("[truncated: profiling.max_stacks reached]", "", 0, 0)
_Key = tuple[tuple[tuple[CodeType, int], ...], tuple[tuple[str, str], ...]]


def _idle(code: CodeType) -> bool:
    return (os.path.basename(code.co_filename), code.co_name) in _IDLE


class StackSampler:
    """Aggregated samples of one profile. ``max_stacks``: distinct (stack, labels) pairs
    kept; samples of new pairs beyond it are counted under one ``[truncated]`` frame.
    Used from one thread (the profiler's)."""

    __slots__ = ("_counts", "_ident", "_max_stacks", "idle", "samples")

    def __init__(self, max_stacks: int) -> None:
        self._max_stacks = max_stacks
        self._counts: dict[_Key | str, list[int]] = {}
        self._ident = threading.get_ident()
        self.samples = 0
        """Busy-thread samples taken since the last :meth:`encode`."""
        self.idle = 0
        """Threads found idle (not counted) since the last :meth:`encode`."""

    def sample(self, interval_ns: int) -> None:
        """Record every other thread's stack once; each busy one counts ``interval_ns``."""
        own = threading.get_ident()
        for ident, frame in sys._current_frames().items():
            if ident == own or _idle(frame.f_code):
                self.idle += ident != own
                continue
            call = _calls.call_on(ident)
            labels = () if call is None else tuple(_calls.labels_of(call).items())
            key: _Key | str = (_stack(frame), labels)
            counts = self._counts.get(key)
            if counts is None:
                if len(self._counts) >= self._max_stacks:
                    key = "truncated"
                    counts = self._counts.setdefault(key, [0, 0])
                else:
                    counts = self._counts[key] = [0, 0]
            counts[0] += 1
            counts[1] += interval_ns
            self.samples += 1

    def encode(self, period_ns: int, time_nanos: int, duration_nanos: int) -> bytes:
        """The gzipped pprof profile of the samples so far (``samples``/count and
        ``cpu``/nanoseconds), then start over empty."""
        builder = ProfileBuilder(
            [("samples", "count"), ("cpu", "nanoseconds")],
            period_type=("cpu", "nanoseconds"),
            period=period_ns,
        )
        for key, (count, nanos) in self._counts.items():
            if isinstance(key, str):
                builder.add((_TRUNCATED,), (count, nanos))
                continue
            stack, labels = key
            builder.add(
                tuple(_frame(code, line) for code, line in stack), (count, nanos), dict(labels)
            )
        self._counts = {}
        self.samples = self.idle = 0
        return builder.encode(time_nanos=time_nanos, duration_nanos=duration_nanos)


def _stack(frame: FrameType | None) -> tuple[tuple[CodeType, int], ...]:
    stack: list[tuple[CodeType, int]] = []
    while frame is not None and len(stack) < MAX_DEPTH:
        stack.append((frame.f_code, frame.f_lineno or 0))
        frame = frame.f_back
    return tuple(stack)


def _frame(code: CodeType, line: int) -> Frame:
    name = getattr(code, "co_qualname", code.co_name)  # Python >= 3.11: Class.method
    return (name, code.co_filename, line, code.co_firstlineno)
