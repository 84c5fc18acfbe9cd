"""Which server call each thread (sync servers) or asyncio task (grpc.aio servers) is running,
so that a stack sample can carry the call's labels.

The server interceptors call :func:`begin` when a call starts and :func:`end` when it ends,
only while :data:`armed` is set (a profiler armed by a policy or by code): a dict store and a
dict delete per call. The sampler reads the dicts from its own thread (each dict operation is
atomic in CPython). Threads are keyed by ``threading.get_ident()``; aio calls by their task,
and a loop's thread is remembered so that the sampler asks ``asyncio.current_task(loop)`` which
task that thread is running at the moment of the sample.

Finding the task: on Python 3.12+ ``asyncio.current_task()`` is C and cheap. On 3.10 and 3.11
it is Python, and asking for the running loop costs a ``getpid`` system call, so there the
remembered loop of this thread is reused (checked against the loop's ``_thread_id``, refreshed
when the thread runs another loop) and its task read from the dict ``current_task`` itself
reads (``benchmarks/profiling.py`` times both).

Limits: work a handler hands to another thread (``run_in_executor``, a thread pool of its own)
is sampled without labels; on a loop thread, time spent between task steps (the loop's own
work, gRPC's callbacks) has none either.
"""

from __future__ import annotations

import asyncio
import threading
import types
from collections.abc import Callable, Hashable
from typing import Any, Protocol

from opentelemetry import trace

from resilience.context import CallContext

armed = False
"""Set while a profiler is armed: the interceptors register calls only then."""

_calls: dict[Hashable, LabeledCall] = {}
_loops: dict[int, asyncio.AbstractEventLoop] = {}
_get_ident = threading.get_ident
_current_task = asyncio.current_task
_running_loop = asyncio.events._get_running_loop
_python_current_task = isinstance(asyncio.current_task, types.FunctionType)  # 3.10, 3.11
_task_in: Callable[[asyncio.AbstractEventLoop], asyncio.Task[Any] | None] = (
    asyncio.tasks._current_tasks.get  # type: ignore[attr-defined]  # what current_task reads
    if _python_current_task
    else asyncio.current_task
)
_latency_sinks: dict[str, Callable[[float], None]] = {}


class LabeledCall(Protocol):
    """What a registered call offers: its :class:`CallContext` (method, color, tier) and the
    OpenTelemetry context its handler runs under (for the trace id), or None."""

    call_context: CallContext
    otel_context: Any


def _begin_task_first(call: LabeledCall, aio: bool) -> Hashable | None:
    """:func:`begin` where ``asyncio.current_task`` is C (Python 3.12+)."""
    if not aio:
        key: Hashable = _get_ident()
    else:
        task = _current_task()
        if task is None:
            return None
        key = task
        ident = _get_ident()
        loop = _loops.get(ident)
        if loop is None or getattr(loop, "_thread_id", None) != ident:
            _loops[ident] = task.get_loop()
    _calls[key] = call
    return key


def _begin_loop_first(call: LabeledCall, aio: bool) -> Hashable | None:
    """:func:`begin` where ``asyncio.current_task`` is Python (3.10, 3.11): the thread's
    remembered loop, refreshed when the thread runs another one, then its task."""
    ident = _get_ident()
    if not aio:
        key: Hashable = ident
    else:
        loop = _loops.get(ident)
        if loop is None or getattr(loop, "_thread_id", None) != ident:
            loop = _running_loop()
            if loop is None:
                return None
            _loops[ident] = loop
        task = _task_in(loop)
        if task is None:
            return None
        key = task
    _calls[key] = call
    return key


begin: Callable[[LabeledCall, bool], Hashable | None] = (
    _begin_loop_first if _python_current_task else _begin_task_first
)
"""Register ``call`` as running on this thread (``aio`` False) or in the current task;
the key to give :func:`end`, or None when there is no task."""


def end(key: Hashable, call: LabeledCall, duration: float) -> None:
    """Unregister ``call`` (registered under ``key``); ``duration``: its latency in seconds,
    fed to the latency trigger watching its method, if any."""
    if _calls.get(key) is call:
        _calls.pop(key, None)
    if _latency_sinks:
        sink = _latency_sinks.get(call.call_context.method or "")
        if sink is not None:
            sink(duration)


def inflight() -> int:
    """Server calls registered now (the in-flight count the trigger reads)."""
    return len(_calls)


def call_on(ident: int) -> LabeledCall | None:
    """The call the thread ``ident`` is running now, or None."""
    call = _calls.get(ident)
    if call is not None:
        return call
    loop = _loops.get(ident)
    if loop is None:
        return None
    try:
        task = _current_task(loop)
    except Exception:
        return None
    return None if task is None else _calls.get(task)


def labels_of(call: LabeledCall) -> dict[str, str]:
    """The sample labels of a call: method, color, tier, trace_id (unset ones left out)."""
    context = call.call_context
    labels = {"method": context.method or ""}
    if context.color:
        labels["color"] = context.color
    if context.tier is not None:
        labels["tier"] = str(context.tier)
    if call.otel_context is not None:
        span = trace.get_current_span(call.otel_context).get_span_context()
        if span.trace_id:
            labels["trace_id"] = format(span.trace_id, "032x")
    return labels


def arm() -> None:
    """Make the interceptors register calls from now on."""
    global armed
    armed = True


def disarm() -> None:
    """Stop registering calls and forget those registered."""
    global armed
    armed = False
    _calls.clear()
    _loops.clear()


def watch_latency(method: str, sink: Callable[[float], None] | None) -> None:
    """Feed the latency of ``method``'s calls to ``sink`` (None: stop)."""
    if sink is None:
        _latency_sinks.pop(method, None)
    else:
        _latency_sinks[method] = sink
