"""What the aio client interceptor and the protected aio channel share: recording a call's
status when it ends, and the error of a call refused locally."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import grpc.aio

from resilience.interceptors._client_call import ClientCall
from resilience.interceptors._guard import report
from resilience.interceptors._pipeline import Rejection

_CANCELLED = grpc.StatusCode.CANCELLED


_pending: set[asyncio.Future[None]] = set()
"""Status reads that had to wait (kept referenced until done, as asyncio requires)."""


async def _status_later(call: Any, client_call: ClientCall) -> None:
    try:
        code = await call.code()
    except asyncio.CancelledError:
        code = _CANCELLED
    client_call.end(code)


def _record(client_call: ClientCall, call: Any) -> None:
    """The done callback of an aio call (bound with functools.partial: no closure per call):
    record its status.

    ``call.code()`` is a coroutine, but once the call is done its status is already there and
    the coroutine completes on its first step; driving that step here keeps the callback
    synchronous and free of task creation. Only a read that would wait is left to a task.
    """
    code: grpc.StatusCode | None
    try:
        coroutine = call.code()
        try:
            coroutine.send(None)
        except StopIteration as stop:
            code = stop.value
        except asyncio.CancelledError:
            code = _CANCELLED
        else:  # it would wait: the status is not there yet
            coroutine.close()
            code = _CANCELLED if call.cancelled() else None
    except Exception as exc:
        report("aio client status reading", exc)
        return
    if code is not None:
        client_call.end(code)
        return
    task = asyncio.ensure_future(_status_later(call, client_call))
    _pending.add(task)
    task.add_done_callback(_pending.discard)


def _local_error(rejection: Rejection) -> grpc.aio.AioRpcError:
    """The error of a call refused locally, as grpc.aio reports a failed call."""
    return grpc.aio.AioRpcError(
        rejection.code,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(*rejection.trailing_metadata),
        rejection.details,
    )
