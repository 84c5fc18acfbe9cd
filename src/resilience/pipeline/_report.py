"""What observers hear of a pipeline call: one ``call_started`` and one ``call_ended`` with a
:class:`~resilience.events.CallInfo` whose ``method`` is the pipeline's name, side ``client``."""

from __future__ import annotations

import logging
from typing import Any

import grpc

from resilience.errors import RejectReason
from resilience.events import CallInfo, CallOutcome, Observer
from resilience.pipeline._core import Judge, Kind, Rejected

_log = logging.getLogger("resilience.pipeline")
OK = grpc.StatusCode.OK


def started(observers: tuple[Observer, ...], info: CallInfo) -> None:
    """Tell ``observers`` a call started; a failing observer is logged, never raised."""
    for observer in observers:
        try:
            observer.call_started(info)
        except Exception:
            _log.debug("observer %r failed in call_started", observer, exc_info=True)


def ended(observers: tuple[Observer, ...], info: CallInfo, outcome: CallOutcome) -> None:
    """Tell ``observers`` a call ended; a failing observer is logged, never raised."""
    for observer in observers:
        try:
            observer.call_ended(info, outcome)
        except Exception:
            _log.debug("observer %r failed in call_ended", observer, exc_info=True)


def code_of(exc: BaseException, judge: Judge) -> tuple[grpc.StatusCode, str | None]:
    """The status code (and reject reason) reported for a call that raised ``exc``:
    a rejection is ``UNAVAILABLE`` for the breaker and ``RESOURCE_EXHAUSTED`` otherwise (as
    the interceptors answer); a timeout ``DEADLINE_EXCEEDED``; a cancellation ``CANCELLED``;
    a ``grpc.RpcError`` its own code; another failure ``UNKNOWN``; an exception that is not a
    failure by the pipeline's rule ``OK``."""
    if isinstance(exc, Rejected):
        breaker = exc.reason == RejectReason.BREAKER.value
        code = grpc.StatusCode.UNAVAILABLE if breaker else grpc.StatusCode.RESOURCE_EXHAUSTED
        return code, exc.reason
    kind = judge.exception_kind(exc)
    if kind is Kind.TIMEOUT:
        return grpc.StatusCode.DEADLINE_EXCEEDED, None
    if kind is Kind.CANCELLED:
        return grpc.StatusCode.CANCELLED, None
    if kind is Kind.SUCCESS:
        return OK, None
    own: Any = getattr(exc, "code", None)
    if isinstance(exc, grpc.RpcError) and callable(own):
        try:
            status = own()
        except Exception:
            status = None
        if isinstance(status, grpc.StatusCode):
            return status, None
    return grpc.StatusCode.UNKNOWN, None


def result_code(result: object, judge: Judge) -> grpc.StatusCode:
    """``OK``, or ``UNKNOWN`` for a result the failure predicate refuses."""
    return OK if judge.result_kind(result) is Kind.SUCCESS else grpc.StatusCode.UNKNOWN
