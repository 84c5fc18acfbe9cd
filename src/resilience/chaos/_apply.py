"""Applying faults: the sleeps and aborts behind :mod:`resilience.chaos`, and its server hooks.

A server hook is called as ``hook(method, metadata, request, context)`` by the server
interceptors before admission, inside the call's contexts (so
:func:`resilience.context.current_color` is the caller's color); it ends the call by aborting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import grpc

from resilience._base.details import details_trailer
from resilience._base.keys import REJECT
from resilience.chaos._rules import Fault
from resilience.context import current_color
from resilience.errors import RejectReason

if TYPE_CHECKING:
    from resilience.chaos._injector import FaultInjector

FAULT_TRAILER: tuple[tuple[str, str], ...] = ((REJECT, RejectReason.FAULT.value),)
"""The ``x-resilience-reject`` trailer of a call aborted by an injected fault (the whole
trailing metadata, with the standard error details, is :func:`fault_trailers`)."""


def fault_info(fault: Fault, side: str) -> dict[str, str]:
    """The ErrorInfo metadata of a call ``fault`` aborts on ``side``: the rule that fired."""
    return {"rule": fault.rule, "side": side}


def fault_trailers(fault: Fault) -> tuple[tuple[str, str | bytes], ...]:
    """Trailing metadata of a server call ``fault`` aborts: ``x-resilience-reject: fault`` and
    the standard error details (ErrorInfo reason FAULT_INJECTED). ``fault.code`` must be set."""
    assert fault.code is not None
    details = details_trailer(
        fault.code, fault.message, RejectReason.FAULT.value, metadata=fault_info(fault, "server")
    )
    return (*FAULT_TRAILER, details)


def delay_fault(fault: Fault, *, sleep: Callable[[float], None] = time.sleep) -> None:
    """Block for the fault's delay, if any."""
    if fault.delay > 0:
        sleep(fault.delay)


async def aio_delay_fault(
    fault: Fault, *, sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep
) -> None:
    """Wait (without blocking the loop) for the fault's delay, if any."""
    if fault.delay > 0:
        await sleep(fault.delay)


def delay_within(
    fault: Fault,
    timeout: float | None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> float | None:
    """Hold a client call for the fault's delay as a slow network would: the delay uses up the
    caller's ``timeout`` (seconds; None: none) and is cut where it runs out. Returns the seconds
    of ``timeout`` left to send the call with (0.0 when the delay took it all: gRPC then ends the
    call DEADLINE_EXCEEDED, as the caller's deadline says), or None without a timeout."""
    if fault.delay <= 0:
        return timeout
    if timeout is None:
        sleep(fault.delay)
        return None
    began = clock()
    sleep(min(fault.delay, timeout))
    return max(0.0, timeout - (clock() - began))


async def aio_delay_within(
    fault: Fault,
    timeout: float | None,
    *,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> float | None:
    """The :func:`delay_within` of grpc.aio calls (waits without blocking the loop)."""
    if fault.delay <= 0:
        return timeout
    if timeout is None:
        await sleep(fault.delay)
        return None
    began = clock()
    await sleep(min(fault.delay, timeout))
    return max(0.0, timeout - (clock() - began))


def apply_fault(
    fault: Fault, context: grpc.ServicerContext, *, sleep: Callable[[float], None] = time.sleep
) -> None:
    """Apply a server-side fault in a sync handler: sleep, then, when ``fault.code`` is set,
    abort with that status and ``x-resilience-reject: fault`` (raises, as ``abort`` does)."""
    delay_fault(fault, sleep=sleep)
    if fault.code is not None:
        context.set_trailing_metadata(fault_trailers(fault))
        context.abort(fault.code, fault.message)


async def aio_apply_fault(
    fault: Fault,
    context: grpc.aio.ServicerContext[Any, Any],
    *,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> None:
    """The :func:`apply_fault` of grpc.aio handlers."""
    await aio_delay_fault(fault, sleep=sleep)
    if fault.code is not None:
        await context.abort(fault.code, fault.message, trailing_metadata=fault_trailers(fault))


Hook = Callable[[str, Mapping[str, Any], Any, Any], None]
AioHook = Callable[[str, Mapping[str, Any], Any, Any], Awaitable[None]]


def fault_hook(injector: FaultInjector, *, sleep: Callable[[float], None] = time.sleep) -> Hook:
    """A sync server hook that applies ``injector``'s server-side faults: it sleeps for a
    delay and aborts with the fault's status and ``x-resilience-reject: fault``."""

    def inject_fault(method: str, metadata: Mapping[str, Any], request: Any, context: Any) -> None:
        fault = injector.pick("server", method, current_color())
        if fault is not None:
            apply_fault(fault, context, sleep=sleep)

    return inject_fault


def aio_fault_hook(
    injector: FaultInjector, *, sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep
) -> AioHook:
    """The :func:`fault_hook` of grpc.aio servers (awaits the delay, never blocks the loop)."""

    async def inject_fault(
        method: str, metadata: Mapping[str, Any], request: Any, context: Any
    ) -> None:
        fault = injector.pick("server", method, current_color())
        if fault is not None:
            await aio_apply_fault(fault, context, sleep=sleep)

    return inject_fault
