"""The policy's ``bulkhead`` section on both sides: a call takes a place in its method's
:class:`~resilience.pipeline.Bulkhead` (the pipeline's algorithm, shared by the methods of the
declaring pattern) before it runs, waits in the queue for one, or is refused.

A server call asks after the overload guard and the rate limit let it through (a call they
refuse never takes a queue place); a client call after the breaker admitted it. The place is
freed when the call ends (:meth:`ServerCall.end`, :meth:`ClientCall.end`): a stream holds its
place until it ends. The wait is at most the section's ``max_wait`` seconds and never past the
call's deadline (server) or timeout (client); the time a client call waited is taken off the
timeout it is sent with, and a client call whose timeout runs out in the queue ends
DEADLINE_EXCEEDED at its timeout, as gRPC ends a call at its deadline. A sync wait blocks its
thread (a sync server's gRPC worker, the caller of a sync channel); an aio wait awaits and a
cancelled task leaves the queue.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

import grpc

from resilience.errors import RejectReason
from resilience.interceptors._client_call import ClientCall
from resilience.interceptors._guard import report
from resilience.interceptors._method_state import MethodState
from resilience.interceptors._pipeline import MAX_CALL_INFOS, Rejection
from resilience.interceptors._server_call import ServerCall
from resilience.pipeline import Bulkhead, Permit
from resilience.pipeline import Rejection as Refusal
from resilience.policy import BulkheadSettings

StopOn = Callable[[Callable[[], None]], None]
"""Registers the function that ends a sync wait early (see ``Bulkhead.admit_within``)."""

_monotonic = time.monotonic


def _error_info(method: str, settings: BulkheadSettings, side: str) -> dict[str, str]:
    """The ErrorInfo metadata of a bulkhead's refusal: method, side, key and bounds."""
    return {
        "method": method,
        "side": side,
        "bulkheadKey": settings.key or method,
        "maxConcurrent": str(settings.max_concurrent),
        "maxQueue": str(settings.max_queue),
    }


@functools.lru_cache(maxsize=MAX_CALL_INFOS)
def bulkhead_rejection(method: str, settings: BulkheadSettings, side: str) -> Rejection:
    """The rejection of a call to ``method`` that ``side``'s bulkhead refused (every place
    taken and the queue full, or no place freed within the wait): RESOURCE_EXHAUSTED with
    ErrorInfo ``BULKHEAD_FULL`` (method, side, the bulkhead's key and bounds) and a RetryInfo
    of the section's ``max_wait`` (no place freed within that long); no
    ``grpc-retry-pushback-ms``: a bulkhead knows no time at which a place is sure to be free.
    Built once per method and side: a full bulkhead refuses calls in bursts."""
    key = settings.key or method
    return Rejection(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        RejectReason.BULKHEAD.value,
        f"resilience: rejected by bulkhead (at most {settings.max_concurrent} calls at once "
        f"and {settings.max_queue} waiting up to {settings.max_wait:g} s on {key}, {side} "
        f"side)",
        info=_error_info(method, settings, side),
        retry_delay=settings.max_wait,
    )


@functools.lru_cache(maxsize=MAX_CALL_INFOS)
def bulkhead_timeout_rejection(method: str, settings: BulkheadSettings) -> Rejection:
    """The rejection of a client call to ``method`` whose timeout ran out while it waited in
    its bulkhead's queue (the timeout was shorter than ``max_wait``): DEADLINE_EXCEEDED, as
    gRPC ends a call at its deadline, with the bulkhead's mark and ErrorInfo (the call was
    never sent) and no RetryInfo (the caller's time is spent). Built once per method."""
    key = settings.key or method
    return Rejection(
        grpc.StatusCode.DEADLINE_EXCEEDED,
        RejectReason.BULKHEAD.value,
        f"resilience: the call's timeout passed while it waited for a place in the bulkhead "
        f"(at most {settings.max_concurrent} calls at once on {key}, client side)",
        info=_error_info(method, settings, "client"),
    )


def _of(state: MethodState) -> tuple[Bulkhead, BulkheadSettings]:
    """The state's bulkhead and its settings (only asked of a state that has one)."""
    bulkhead, settings = state.bulkhead, state.settings.bulkhead
    assert bulkhead is not None
    assert settings is not None
    return bulkhead, settings


def _wait(settings: BulkheadSettings, left: float | None) -> float:
    """Seconds a call may wait: ``max_wait``, or the ``left`` seconds of its deadline."""
    return settings.max_wait if left is None else max(0.0, min(settings.max_wait, left))


def _server_left(call: ServerCall) -> float | None:
    deadline = call.call_context.deadline
    return None if deadline is None else deadline - _monotonic()


def _server_held(call: ServerCall, got: Permit | Refusal) -> Rejection | None:
    if isinstance(got, Permit):
        call.slot = got
        return None
    settings = call.state.settings.bulkhead
    assert settings is not None
    call.rejection = bulkhead_rejection(call.state.method, settings, "server")
    return call.rejection


def hold(call: ServerCall, stop_on: StopOn) -> Rejection | None:
    """A sync server call's place (``call.state.bulkhead`` is set), waited for in this worker
    thread; ``stop_on`` registers what ends the wait when the call ends. The call's
    :class:`Rejection`, or None once it holds a place. A bulkhead that raises is logged and
    admits the call."""
    bulkhead, settings = _of(call.state)
    try:
        got = bulkhead.admit_within(_wait(settings, _server_left(call)), stop_on)
    except Exception as exc:
        report("server bulkhead admission", exc)
        return None
    return _server_held(call, got)


async def ahold(call: ServerCall) -> Rejection | None:
    """:func:`hold` for a grpc.aio server call: the wait is awaited; a call cancelled while it
    waits (its caller gone, its deadline passed) leaves the queue and the cancellation
    propagates."""
    bulkhead, settings = _of(call.state)
    try:
        got = await bulkhead.aadmit_within(_wait(settings, _server_left(call)))
    except Exception as exc:
        report("server bulkhead admission", exc)
        return None
    return _server_held(call, got)


def _client_held(call: ClientCall, got: Permit | Refusal, started: float) -> Rejection | None:
    settings = call.state.settings.bulkhead
    assert settings is not None
    if not isinstance(got, Permit):
        timeout = call.timeout
        if timeout is not None and timeout <= settings.max_wait and _spent(started, timeout):
            rejection = bulkhead_timeout_rejection(call.state.method, settings)
        else:  # the queue was full, or max_wait passed first
            rejection = bulkhead_rejection(call.state.method, settings, "client")
        call.end_unsent(rejection.code, rejection.reason)
        return rejection
    call.slot = got
    if call.timeout is not None:  # the wait is spent from the caller's timeout
        call.timeout = max(0.0, call.timeout - (_monotonic() - started))
    return None


def _spent(started: float, timeout: float) -> bool:
    """Whether a wait that began at ``started`` lasted the call's whole ``timeout`` (a full
    queue refuses at once; a wait bounded by the timeout ends when it has passed)."""
    return _monotonic() - started >= timeout


def client_hold(call: ClientCall) -> Rejection | None:
    """A sync client call's place (``call.state.bulkhead`` is set), waited for in the caller's
    thread at most ``max_wait`` seconds and never past the call's timeout. The
    :class:`Rejection` to raise (the call already ended for observers): RESOURCE_EXHAUSTED
    for a full queue or a wait past ``max_wait``, DEADLINE_EXCEEDED for a wait that reached
    the call's timeout first; or None once it holds a place (``call.timeout`` shortened by
    the wait)."""
    bulkhead, settings = _of(call.state)
    started = _monotonic()
    try:
        got = bulkhead.admit_within(_wait(settings, call.timeout))
    except Exception as exc:
        report("client bulkhead admission", exc)
        return None
    return _client_held(call, got, started)


def waited_through_close(call: ClientCall, error: BaseException) -> bool:
    """Whether ``error``, raised by the channel when asked to send ``call``, refuses a call
    that waited in its bulkhead's queue while the channel was closed: gRPC's ValueError
    (sync) or UsageError (grpc.aio) of a call made on a closed channel. That call was in
    flight for its caller, so it ends as the close ends the calls in flight (sync: CANCELLED
    ``Channel closed!``; grpc.aio: cancelled). Asked before the call ends (which frees its
    place)."""
    if not getattr(call.slot, "queued", False):
        return False
    text = str(error)
    if isinstance(error, ValueError):
        return text.startswith("Cannot invoke RPC")
    return type(error).__name__ == "UsageError" and "closed" in text


async def client_ahold(call: ClientCall) -> Rejection | None:
    """:func:`client_hold` for a grpc.aio call: the wait is awaited; a call cancelled while
    it waits leaves the queue, ends CANCELLED for observers, and the cancellation
    propagates."""
    bulkhead, settings = _of(call.state)
    started = _monotonic()
    try:
        got = await bulkhead.aadmit_within(_wait(settings, call.timeout))
    except BaseException as exc:
        if not isinstance(exc, Exception):  # cancelled while waiting: never sent
            call.end_unsent(grpc.StatusCode.CANCELLED)
            raise
        report("client bulkhead admission", exc)
        return None
    return _client_held(call, got, started)
