"""Call durations recorded off the call path, in batches.

The OpenTelemetry Python SDK spends several microseconds in every histogram ``record`` (it
copies, cleans and hashes the attribute set, runs the exemplar filter and takes the
aggregation's lock; 6-7 us per record measured with SDK 1.45) and has no way to take
pre-aggregated data. A :class:`DurationQueue` takes a call's duration on the call path with one
deque append (and the call's OpenTelemetry context, so that exemplars still link to its trace),
and records it through the SDK later, in one of two places:

- its flusher thread, woken once :data:`FLUSH_AT` durations wait, which records them a few at
  a time and leaves the GIL to the calls in between (:data:`PAUSE`);
- :meth:`DurationQueue.drain`, which the metrics observer calls from its observable
  instruments' callback: the SDK runs those before it reads any instrument, so every
  collection (a Prometheus scrape, an OTLP export, ``MetricReader.collect``) first records every
  duration queued before it started.

Nothing is dropped: while :data:`MAX_WAITING` durations wait (the flusher starved of CPU), a
call records its own duration at once, as it would without the queue. A record that raises is
counted and logged as a library fault (``metrics duration record``) and the rest go on.
What differs from recording at once: a point's exemplar carries the time it was recorded, up to
one batch later than the call's end.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Mapping

from opentelemetry.context import Context, get_current
from opentelemetry.metrics import Histogram

from resilience._base.faults import report

FLUSH_AT = 128
"""Durations waiting that wake the flusher thread."""

MAX_WAITING = 16_384
"""Durations waiting beyond which a call records its own at once (the flusher is behind)."""

CHUNK = 4
"""Records the flusher makes between two pauses."""

PAUSE = 0.0002
"""Seconds the flusher sleeps between two chunks, the GIL left to the calls: a call that needs
it (a response just read from the network) waits for at most one chunk (about 25 us of
recording), not a whole batch. At this pace the flusher records about 10,000 durations a second
per process; see :data:`BACKLOG`."""

BACKLOG = 2048
"""Durations waiting beyond which the flusher records without pausing (the calls end faster
than the paced flusher records)."""

_Waiting = tuple[Histogram, float, Mapping[str, str], Context]


class DurationQueue:
    """Durations waiting to be recorded, and the daemon thread that records them.

    :meth:`add` is safe from any thread and takes no lock; :meth:`drain` records what waits when
    it starts (not what arrives meanwhile, so a drain under load ends) and may run in several
    threads at once (one drains, the others wait for it, then drain what is left)."""

    _drain_lock: threading.Lock
    _start_lock: threading.Lock
    _wake: threading.Event
    _flusher: threading.Thread | None

    def __init__(self, *, flush_at: int = FLUSH_AT, max_waiting: int = MAX_WAITING) -> None:
        if not 1 <= flush_at <= max_waiting:
            raise ValueError(
                f"flush_at must be between 1 and max_waiting ({max_waiting}), got {flush_at}"
            )
        self._flush_at = flush_at
        self._max_waiting = max_waiting
        self._waiting: deque[_Waiting] = deque()
        self._reset_thread_state()
        _QUEUES.add(self)

    def add(self, histogram: Histogram, seconds: float, attributes: Mapping[str, str]) -> None:
        """Queue one duration of ``histogram`` with ``attributes`` and the current context."""
        waiting = self._waiting
        if len(waiting) >= self._flush_at:
            if len(waiting) >= self._max_waiting:
                histogram.record(seconds, attributes)
                return
            self._wake_flusher()
        waiting.append((histogram, seconds, attributes, get_current()))

    def drain(self) -> int:
        """Record every duration waiting when called; returns how many were recorded."""
        return self._record(len(self._waiting))

    def _record(self, most: int) -> int:
        """Record up to ``most`` of the durations waiting, oldest first; returns how many."""
        with self._drain_lock:
            waiting = self._waiting
            count = min(most, len(waiting))
            for _ in range(count):
                histogram, seconds, attributes, context = waiting.popleft()
                try:
                    histogram.record(seconds, attributes, context)
                except Exception as exc:
                    report("metrics duration record", exc)
            return count

    def waiting(self) -> int:
        """How many durations wait to be recorded."""
        return len(self._waiting)

    def _wake_flusher(self) -> None:
        if self._wake.is_set():
            return
        flusher = self._flusher
        if flusher is None or not flusher.is_alive():
            with self._start_lock:
                if self._flusher is None or not self._flusher.is_alive():
                    flusher = threading.Thread(
                        target=self._flush_forever, name="resilience-metrics-flush", daemon=True
                    )
                    flusher.start()
                    self._flusher = flusher
        self._wake.set()

    def _flush_forever(self) -> None:
        """Wait to be woken, then record what waits a chunk at a time, pausing between chunks
        while fewer than :data:`BACKLOG` wait."""
        wake, waiting = self._wake, self._waiting
        while True:
            wake.wait()  # set while this records: the calls then need not set it again
            while self._record(CHUNK):
                if len(waiting) < BACKLOG:
                    time.sleep(PAUSE)
            wake.clear()

    def _reset_thread_state(self) -> None:
        """Fresh locks, no flusher: at creation, and in a forked child (the parent's flusher
        does not exist there and it may have held the drain lock at the fork)."""
        self._drain_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._wake = threading.Event()
        self._flusher = None


_QUEUES: weakref.WeakSet[DurationQueue] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for queue in list(_QUEUES):
        queue._reset_thread_state()


if hasattr(os, "register_at_fork"):  # POSIX only; elsewhere a process cannot fork
    os.register_at_fork(after_in_child=_after_fork_in_child)

_default_queue = DurationQueue()


def default_duration_queue() -> DurationQueue:
    """The process-wide queue the metrics observers share (one flusher thread per process)."""
    return _default_queue
