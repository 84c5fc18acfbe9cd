"""The thread-based load engine: ``concurrency`` threads send generic bytes calls on schedule.

Works against any gRPC server: calls go through ``generic.unary_unary(method)`` and its
siblings without serializers, so request and response messages stay raw bytes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import grpc

from resilience.recording.format import CallSpec
from resilience.tools.loadtest._core import (
    Dispatcher,
    LoadSettings,
    reject_reason,
    request_metadata,
    start_call,
)
from resilience.tools.loadtest.flow import CallSource
from resilience.tools.loadtest.report import Results

Tick = Callable[[float, Dispatcher, Results], None]
"""Progress callback: (seconds since start, dispatcher, results so far)."""


def run_calls(
    target: str,
    source: CallSource,
    settings: LoadSettings,
    *,
    results: Results | None = None,
    on_tick: Tick | None = None,
    tick_interval: float = 0.5,
) -> Results:
    """Run the load and return its results. ``target`` is ``host:port`` (insecure channel).
    On KeyboardInterrupt the run stops sending, waits for calls in flight, and re-raises;
    ``results`` (when passed) then holds what completed."""
    results = results if results is not None else Results()
    dispatcher = Dispatcher(settings, source)
    stop = threading.Event()
    with grpc.insecure_channel(target) as channel:
        start = results.started = time.monotonic()
        workers = [
            threading.Thread(
                target=_worker,
                args=(channel, dispatcher, settings, results, start, stop),
                name=f"loadtest-{index}",
                daemon=True,
            )
            for index in range(settings.concurrency)
        ]
        for worker in workers:
            worker.start()
        try:
            while alive := [worker for worker in workers if worker.is_alive()]:
                alive[0].join(tick_interval)
                if on_tick is not None:
                    on_tick(time.monotonic() - start, dispatcher, results)
        except KeyboardInterrupt:
            dispatcher.stop()
            stop.set()
            for worker in workers:
                worker.join(settings.timeout)
            raise
        finally:
            results.elapsed = time.monotonic() - start
    return results


def _worker(
    channel: grpc.Channel,
    dispatcher: Dispatcher,
    settings: LoadSettings,
    results: Results,
    start: float,
    stop: threading.Event,
) -> None:
    while (claim := dispatcher.claim()) is not None:
        _, due, call = claim
        wait = start + due - time.monotonic()
        if wait > 0 and stop.wait(wait):
            return
        began = time.monotonic()
        code, trailing = invoke(
            channel, call, request_metadata(call, settings.color), settings.timeout
        )
        ended = time.monotonic()
        results.add(
            began - start, ended - began, code.name, reject_reason(trailing), began - start - due
        )


def invoke(
    channel: grpc.Channel, call: CallSpec, metadata: Any, timeout: float
) -> tuple[grpc.StatusCode, Any]:
    """Send one generic call (see :func:`start_call`) and wait for its end; returns (status
    code, trailing metadata). Response messages are read and dropped."""
    try:
        rpc = start_call(channel, call, metadata, timeout)
        for _ in rpc:
            pass
        return rpc.code(), rpc.trailing_metadata()
    except grpc.RpcError as exc:
        failed: Any = exc
        return failed.code(), failed.trailing_metadata()
