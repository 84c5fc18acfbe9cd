"""The asyncio load engine: ``concurrency`` tasks on one grpc.aio channel, same schedule as the
thread engine (:mod:`resilience.tools.loadtest._core`). Lighter than threads for high
concurrency."""

from __future__ import annotations

import asyncio
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


async def aio_run_calls(
    target: str,
    source: CallSource,
    settings: LoadSettings,
    *,
    results: Results | None = None,
    on_tick: Tick | None = None,
    tick_interval: float = 0.5,
) -> Results:
    """Run the load and return its results. ``target`` is ``host:port`` (insecure channel).
    When cancelled, the workers are cancelled too and ``results`` keeps what completed."""
    results = results if results is not None else Results()
    dispatcher = Dispatcher(settings, source)
    async with grpc.aio.insecure_channel(target) as channel:
        start = results.started = time.monotonic()
        workers = [
            asyncio.ensure_future(_worker(channel, dispatcher, settings, results, start))
            for _ in range(settings.concurrency)
        ]
        try:
            pending = set(workers)
            while pending:
                _, pending = await asyncio.wait(pending, timeout=tick_interval)
                if on_tick is not None:
                    on_tick(time.monotonic() - start, dispatcher, results)
            for worker in workers:
                worker.result()  # surface a bug in a worker
        finally:
            dispatcher.stop()
            for worker in workers:
                worker.cancel()
            results.elapsed = time.monotonic() - start
    return results


async def _worker(
    channel: grpc.aio.Channel,
    dispatcher: Dispatcher,
    settings: LoadSettings,
    results: Results,
    start: float,
) -> None:
    while (claim := dispatcher.claim()) is not None:
        _, due, call = claim
        wait = start + due - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        began = time.monotonic()
        code, trailing = await invoke(
            channel, call, request_metadata(call, settings.color), settings.timeout
        )
        ended = time.monotonic()
        results.add(
            began - start, ended - began, code.name, reject_reason(trailing), began - start - due
        )


async def invoke(
    channel: grpc.aio.Channel, call: CallSpec, metadata: Any, timeout: float
) -> tuple[grpc.StatusCode, Any]:
    """Send one generic call and wait for its end; returns (status code, trailing metadata).
    As in the thread engine, responses are always read as a stream (any method shape works)."""
    try:
        rpc = start_call(channel, call, metadata, timeout)
        async for _ in rpc:
            pass
        return await rpc.code(), await rpc.trailing_metadata()
    except grpc.aio.AioRpcError as exc:
        return exc.code(), exc.trailing_metadata()
