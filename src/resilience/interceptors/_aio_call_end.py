"""What the aio client interceptor and the protected aio channel share: recording a call's
status when it ends, and the error of a call refused locally."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import grpc.aio

from resilience.interceptors._client_call import ClientCall, not_the_callees
from resilience.interceptors._guard import report
from resilience.interceptors._pipeline import Rejection

_CANCELLED = grpc.StatusCode.CANCELLED
_OK = grpc.StatusCode.OK


_pending: set[asyncio.Future[None]] = set()
"""Status reads that had to wait (kept referenced until done, as asyncio requires)."""


async def _status_later(call: Any, client_call: ClientCall) -> None:
    try:
        code = await call.code()
    except asyncio.CancelledError:
        code = _CANCELLED
    _end(client_call, call, code)


def _end(client_call: ClientCall, call: Any, code: grpc.StatusCode) -> None:
    """End ``client_call`` with ``code``, the status of the done aio ``call``; a failure gRPC
    gave for the caller's side (see :func:`._client_call.not_the_callees`) is judged as the
    caller's cancel."""
    if code is _OK or code is _CANCELLED:
        client_call.end(code)
        return
    try:
        fault = not_the_callees(_now(call.details()))
    except Exception:  # details not there: judged by its code
        fault = False
    client_call.end(code, _CANCELLED if fault else None)


def _now(coroutine: Any) -> Any:
    """The value of a coroutine that completes on its first step (a done call's status
    reads); LookupError if it would wait."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value
    coroutine.close()
    raise LookupError("the call's status is not there yet")


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
    if code is _OK:  # the usual end: no details to read
        client_call.end(code)
        return
    if code is not None:
        _end(client_call, call, code)
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
