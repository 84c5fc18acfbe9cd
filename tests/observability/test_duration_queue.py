"""Durations go through the OpenTelemetry SDK off the call path, and every collection sees
every call that ended before it."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.metrics import NoOpHistogram
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.util.types import Attributes

from resilience._base import faults
from resilience.events import CallInfo, CallOutcome
from resilience.observability._durations import DurationQueue, default_duration_queue

from .conftest import MetricsHarness

OK = grpc.StatusCode.OK
SAY = "/echo.Echo/Say"
DURATION = "rpc.server.call.duration"


class CountingHistogram(NoOpHistogram):
    """A histogram that counts its records and sets an event when it has ``expect`` of them
    (a stand-in for the SDK's, to see when and where records happen)."""

    def __init__(self, expect: int = 0, fail_on: float | None = None) -> None:
        super().__init__("test.duration")
        self.values: list[float] = []
        self.threads: set[str] = set()
        self.contexts: list[Context | None] = []
        self.expect = expect
        self.fail_on = fail_on
        self.reached = threading.Event()
        self._lock = threading.Lock()

    def record(
        self,
        amount: float,
        attributes: Attributes = None,
        context: Context | None = None,
    ) -> None:
        if amount == self.fail_on:
            raise RuntimeError("broken histogram")
        with self._lock:
            self.values.append(amount)
            self.threads.add(threading.current_thread().name)
            self.contexts.append(context)
            if len(self.values) >= self.expect:
                self.reached.set()


@pytest.fixture
def queued() -> Iterator[MetricsHarness]:
    """A harness whose observer queues durations; the shared queue starts empty."""
    default_duration_queue().drain()
    harness = MetricsHarness()
    yield harness
    harness.provider.shutdown()


def test_a_collection_records_what_waits_before_reading(queued: MetricsHarness) -> None:
    call = CallInfo("server", SAY)
    for duration in (0.01, 0.02, 0.3):
        queued.observer.call_started(call)
        queued.observer.call_ended(call, CallOutcome(OK, duration))

    assert default_duration_queue().waiting() == 3  # not yet through the SDK
    points = queued.points(DURATION)
    assert [p.count for p in points] == [3]
    assert points[0].sum == pytest.approx(0.33)
    assert default_duration_queue().waiting() == 0
    assert [p.count for p in queued.points(DURATION)] == [3]  # counted once, not again


def test_recording_at_once_when_asked(queued: MetricsHarness) -> None:
    harness = MetricsHarness(defer_durations=False)
    call = CallInfo("server", SAY)
    harness.observer.call_started(call)
    harness.observer.call_ended(call, CallOutcome(OK, 0.01))
    assert default_duration_queue().waiting() == 0
    assert [p.count for p in harness.points(DURATION)] == [1]
    harness.provider.shutdown()


def test_the_exemplar_links_the_call_trace_recorded_later(queued: MetricsHarness) -> None:
    """The context is taken at the call's end: the SDK's trace-based exemplar filter sees the
    call's sampled span although the record happens outside it."""
    tracer = TracerProvider().get_tracer("test")
    call = CallInfo("server", SAY)
    with tracer.start_as_current_span("handler") as span:
        queued.observer.call_started(call)
        queued.observer.call_ended(call, CallOutcome(OK, 0.01))
    trace_id = span.get_span_context().trace_id

    (point,) = queued.points(DURATION)
    assert [e.trace_id for e in point.exemplars] == [trace_id]
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_the_flusher_thread_records_a_full_batch() -> None:
    queue = DurationQueue(flush_at=4, max_waiting=100)
    histogram = CountingHistogram(expect=4)
    for value in range(5):  # the fifth add finds four waiting and wakes the flusher
        queue.add(histogram, float(value), {})
    assert histogram.reached.wait(timeout=30)
    assert histogram.threads == {"resilience-metrics-flush"}
    queue.drain()
    assert sorted(histogram.values) == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_a_full_queue_records_the_call_s_own_duration_at_once() -> None:
    queue = DurationQueue(flush_at=3, max_waiting=3)
    histogram = CountingHistogram()
    for value in range(3):
        queue.add(histogram, float(value), {})
    assert histogram.values == []

    queue.add(histogram, 9.0, {})  # beyond the bound: recorded here, in this thread
    assert histogram.values == [9.0]
    assert histogram.threads == {threading.current_thread().name}
    assert queue.waiting() == 3


def test_a_record_that_raises_is_reported_and_the_others_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue = DurationQueue(flush_at=10, max_waiting=10)
    histogram = CountingHistogram(fail_on=2.0)
    before = faults.fault_counts().get("metrics duration record", 0)
    faults._seen.discard(("metrics duration record", RuntimeError))  # logged as a first
    for value in (1.0, 2.0, 3.0):
        queue.add(histogram, value, {"rpc.method": "echo.Echo/Say"})
    with caplog.at_level(logging.WARNING, logger="resilience"):
        assert queue.drain() == 3
    assert histogram.values == [1.0, 3.0]
    assert faults.fault_counts()["metrics duration record"] == before + 1
    assert "metrics duration record raised RuntimeError" in caplog.text


def test_threads_adding_while_collections_drain_lose_nothing() -> None:
    queue = DurationQueue(flush_at=8, max_waiting=64)
    histogram = CountingHistogram()
    per_thread, threads = 400, 8
    start = threading.Barrier(threads + 1)

    def add() -> None:
        start.wait()
        for value in range(per_thread):
            queue.add(histogram, float(value), {})

    def collect(stop: threading.Event) -> None:
        start.wait()
        while not stop.is_set():
            queue.drain()

    stop = threading.Event()
    adders = [threading.Thread(target=add) for _ in range(threads)]
    collector = threading.Thread(target=collect, args=(stop,))
    for thread in [*adders, collector]:
        thread.start()
    for thread in adders:
        thread.join(timeout=60)
    stop.set()
    collector.join(timeout=60)
    queue.drain()

    assert len(histogram.values) == per_thread * threads
    assert queue.waiting() == 0


@pytest.mark.parametrize(("flush_at", "max_waiting"), [(0, 10), (11, 10)])
def test_bad_bounds_say_what_to_change(flush_at: int, max_waiting: int) -> None:
    with pytest.raises(ValueError, match="flush_at must be between 1 and max_waiting"):
        DurationQueue(flush_at=flush_at, max_waiting=max_waiting)


@pytest.mark.e2e
@pytest.mark.timeout(60)
def test_the_export_at_exit_holds_every_call() -> None:
    """The SDK collects once more at shutdown (at exit): the durations still queued then, and
    those the flusher was recording, are all in that export."""
    script = Path(__file__).with_name("exit_export_run.py")
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, timeout=50, check=False, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == ["calls ended 1000", "rpc.server.call.duration 1000"]


FORK_CHILD = """
import os, signal
from opentelemetry.metrics import NoOpHistogram
from resilience.observability._durations import DurationQueue

class Counting(NoOpHistogram):
    values = []
    def record(self, amount, attributes=None, context=None):
        self.values.append(amount)

queue, histogram = DurationQueue(flush_at=4, max_waiting=100), Counting("test")
queue.add(histogram, 1.0, {})
queue._drain_lock.acquire()  # as if the flusher were recording when the process forks
pid = os.fork()
if pid == 0:
    signal.alarm(20)  # should the drain block, the child ends rather than linger
    queue.add(histogram, 2.0, {})
    recorded = queue.drain()  # the child's own lock: not the one held in the parent
    print("child", recorded, sorted(histogram.values), flush=True)
    os._exit(0)
os.waitpid(pid, 0)
print("parent", queue.waiting(), flush=True)
"""


@pytest.mark.e2e
@pytest.mark.timeout(60)
@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_a_forked_child_records_although_the_parent_was_recording() -> None:
    """The child gets fresh locks and no flusher: a drain lock held at the fork (the parent's
    flusher mid-record) would otherwise block every collection in the child for ever."""
    done = subprocess.run(
        [sys.executable, "-c", FORK_CHILD], capture_output=True, timeout=50, check=False, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == ["child 2 [1.0, 2.0]", "parent 1"]
