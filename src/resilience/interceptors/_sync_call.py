"""What the sync client interceptor and the protected channel share: starting a call through
the pipeline (a client-side fault first) and the errors of a call that ended in the library."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc

from resilience.chaos._apply import delay_within
from resilience.interceptors._bulkheads import client_hold, waited_through_close
from resilience.interceptors._client_call import ClientCall
from resilience.interceptors._client_pipeline import ClientPipeline
from resilience.interceptors._ended_call import EndedCall
from resilience.interceptors._pipeline import Rejection


class _EndedHere(grpc.RpcError, EndedCall):  # type: ignore[misc]  # subclasses define details()
    """A sync call that ended in the library, never on the network: like the errors grpc
    raises, it is at once the :class:`grpc.RpcError`, the call and its :class:`grpc.Future`;
    ``result()`` and iterating it (a response stream) raise it."""

    def result(self, timeout: float | None = None) -> Any:
        raise self

    def exception(self, timeout: float | None = None) -> Exception:
        return self

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        raise self


class LocalRejection(_EndedHere):
    """The error of a call the library refused locally (it never reached the network):
    ``code()``, ``details()`` and ``trailing_metadata()`` with ``x-resilience-reject``."""

    def __init__(self, rejection: Rejection) -> None:
        super().__init__(rejection.details)
        self._rejection = rejection

    def code(self) -> grpc.StatusCode:
        return self._rejection.code

    def details(self) -> str:
        return self._rejection.details

    def trailing_metadata(self) -> Any:
        return self._rejection.trailing_metadata

    def debug_error_string(self) -> str:
        return self._rejection.details

    def __repr__(self) -> str:
        return f"<LocalRejection {self._rejection.code.name}: {self._rejection.details!r}>"


class ClosedWhileQueued(_EndedHere):
    """The error of a sync call that waited in its bulkhead's queue while its channel was
    closed: CANCELLED ``Channel closed!``, what gRPC gives the calls in flight at the close
    (this one was, for its caller), not the ValueError of a call made on a closed channel."""

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.CANCELLED

    def details(self) -> str:
        return CHANNEL_CLOSED

    def trailing_metadata(self) -> Any:
        return ()

    def debug_error_string(self) -> str:
        return CHANNEL_CLOSED


CHANNEL_CLOSED = "Channel closed!"
"""gRPC's details for the calls a sync channel's ``close()`` cancels."""


def closed_while_queued(call: ClientCall, error: BaseException) -> ClosedWhileQueued | None:
    """The error for a call gRPC refused to send (``error``, raised by the channel; asked
    before the call ends): :class:`ClosedWhileQueued` when the call waited in its bulkhead's
    queue while the channel was closed (see :func:`._bulkheads.waited_through_close`); else
    None (the caller raises ``error``, as gRPC does for a call made on a closed channel)."""
    return ClosedWhileQueued() if waited_through_close(call, error) else None


def begin(
    pipeline: ClientPipeline,
    method: str,
    timeout: float | None,
    metadata: Any,
    streaming: bool,
) -> ClientCall | Rejection:
    """Start a sync call through ``pipeline``: a client-side fault first when chaos is
    configured (its delay slept here, using up the caller's ``timeout`` as a slow network
    would), then admission, timeout and metadata (see
    :meth:`ClientPipeline.start`), then a place in the method's bulkhead (:func:`held`).
    Shared by the interceptor and the protected channel."""
    if pipeline.injector is not None:  # chaos configured: a client-side fault first
        fault = pipeline.client_fault(method)
        if fault is not None:
            timeout = delay_within(fault, timeout)
            rejection = pipeline.fault_rejection(method, fault, timeout)
            if rejection is not None:
                return rejection
    return held(pipeline.start(method, timeout, metadata, streaming))


def held(call: ClientCall | Rejection) -> ClientCall | Rejection:
    """A started call once it holds a place in its method's bulkhead (waited for in this
    thread; see :func:`._bulkheads.client_hold`), or its rejection; a call without a bulkhead
    as it is."""
    if isinstance(call, Rejection) or call.state.bulkhead is None:
        return call
    rejection = client_hold(call)
    return call if rejection is None else rejection
