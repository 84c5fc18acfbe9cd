"""What the sync and aio server shells share: handler wrapping with a bounded cache, running a
handler under the call's contexts, and reading the status a handler ended with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import grpc.aio
from opentelemetry import context as otel_context

from resilience._base.keys import REJECT
from resilience.context import set_call_context
from resilience.errors import REASON_VALUES
from resilience.events import ServerHook
from resilience.interceptors._guard import logger, report
from resilience.interceptors._server_call import ServerCall
from resilience.interceptors._shapes import Handler, Shape, shape_of
from resilience.observability.sentry import generic_internal_message

_OK = grpc.StatusCode.OK
_UNKNOWN = grpc.StatusCode.UNKNOWN
_CANCELLED = grpc.StatusCode.CANCELLED
_DEADLINE_EXCEEDED = grpc.StatusCode.DEADLINE_EXCEEDED

_CACHE_SIZE = 1024
"""Wrapped handlers remembered per interceptor (a server has one handler per method)."""

Wrapper = Callable[[str, Shape, Callable[..., Any]], Callable[..., Any]]


class HandlerCache:
    """Wraps each method handler once and reuses the wrapped one: rebuilding a handler costs
    more than the whole policy stack. Kept per method while the continuation hands back the
    same handler object (generic handlers and generated code create theirs once); a handler
    built per call is wrapped per call."""

    __slots__ = ("_wrap", "_wrapped")

    def __init__(self, wrap: Wrapper) -> None:
        self._wrap = wrap
        self._wrapped: dict[str, tuple[Handler, Handler]] = {}

    def get(self, method: str, handler: Handler) -> Handler:
        found = self._wrapped.get(method)
        if found is not None and found[0] is handler:
            return found[1]
        wrapped = self._build(method, handler)
        if len(self._wrapped) >= _CACHE_SIZE:
            self._wrapped = {}
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _build(self, method: str, handler: Handler) -> Handler:
        shape = shape_of(handler)
        return shape.rebuild(handler, self._wrap(method, shape, shape.behavior(handler)))


def enter(call: ServerCall) -> None:
    """Make the call's CallContext and trace context current (in a context of its own)."""
    set_call_context(call.call_context)
    if call.otel_context is not None:
        otel_context.attach(call.otel_context)


def code_after_return(context: Any) -> grpc.StatusCode:
    """The status of a call whose handler returned: the code it set, else OK."""
    code = context.code()
    return _OK if code is None else code


def ended_by_exception(
    context: Any, exc: BaseException
) -> tuple[grpc.StatusCode, BaseException | None, bool]:
    """How a call whose handler raised ends: its status, the exception to report (None when
    the handler aborted the call on purpose with ``context.abort``), and whether it crashed
    (no status set): then the interceptor answers UNKNOWN, the code gRPC itself gives an
    unhandled handler exception, but with a generic message instead of gRPC's, which carries
    the exception text (``Exception calling application: <text>`` on sync servers,
    ``Unexpected <class ...>: <text>`` on grpc.aio), so no exception text reaches the client."""
    code = context.code()
    if code is None:
        if isinstance(exc, grpc.RpcError) and not _active(context):
            return code_after_cancel(context), None, False  # the call ended under the handler
        return _UNKNOWN, exc, True
    aborted = type(exc) is Exception and not exc.args  # what grpc's sync abort raises
    return code, None if aborted or isinstance(exc, grpc.aio.AbortError) else exc, False


def details_set(context: Any) -> str:
    """The details a handler set on ``context`` (``set_details``), else the generic message:
    what a call answers when its handler set a code and then raised, so that gRPC does not
    send the exception text instead (grpc.aio always does, sync gRPC when no details were
    set)."""
    details: object = context.details()
    if isinstance(details, bytes):
        details = details.decode("utf-8", "replace")
    return details if isinstance(details, str) and details else generic_internal_message()


def log_raised_after_code(method: str, code: grpc.StatusCode, exc: BaseException) -> None:
    """Log, with its traceback, an exception a handler raised after setting ``code`` (the
    client gets that code and the details the handler set, never the exception text)."""
    logger.error(
        "resilience: the handler of %s set %s, then raised %s; answering %s",
        method,
        code.name,
        type(exc).__name__,
        code.name,
        exc_info=exc,
    )


_MAX_WARNED = 1000
_warned: set[str] = set()


def warn_unprotected(method: str) -> None:
    """Log once per method (up to :data:`_MAX_WARNED` methods) that the handler of ``method``
    on a grpc.aio server is a plain function, which the server runs in its thread pool and
    the library passes through unprotected."""
    if method in _warned or len(_warned) >= _MAX_WARNED:
        return
    _warned.add(method)
    logger.warning(
        "resilience: the handler of %s on a grpc.aio server is a plain function, which gRPC "
        "runs in its thread pool: it runs without the policy (no limits, no metrics); make "
        "it an async def (or an async generator) to protect it",
        method,
    )


def log_crash(method: str, exc: BaseException) -> None:
    """Log a handler's crash with its traceback (the client only learns UNKNOWN and a
    generic message)."""
    logger.error(
        "resilience: the handler of %s raised %s; answering UNKNOWN",
        method,
        type(exc).__name__,
        exc_info=exc,
    )


def _active(context: Any) -> bool:
    is_active = getattr(context, "is_active", None)  # sync contexts only
    return True if is_active is None else bool(is_active())


LEFT_QUEUE = (
    "resilience: the call ended (cancelled, or past its deadline) before it held a place in its "
    "bulkhead"
)
"""The details of a call that ended (cancelled, deadline passed) before it held a place, having
waited for one or not (it arrived with its deadline passed)."""


def ended_while_waiting(context: Any) -> bool:
    """Whether the call ended (cancelled, or its deadline passed) while admission waited."""
    remaining = context.time_remaining()
    return not _active(context) or (remaining is not None and remaining <= 0)


def code_after_cancel(context: Any) -> grpc.StatusCode:
    """The status of a call that stopped early: its deadline passed, or the client cancelled."""
    remaining = context.time_remaining()
    return _DEADLINE_EXCEEDED if remaining is not None and remaining <= 0 else _CANCELLED


def hook_failed(call: ServerCall, context: Any, exc: BaseException) -> bool:
    """After a hook raised: True (and the call ended) when it aborted the call on purpose;
    False (and the bug logged) when the call should proceed without it. An abort whose
    trailing metadata says ``x-resilience-reject: <reason>`` (an injected fault's: ``fault``)
    is a refusal: observers and metrics hear it with that reason."""
    code = context.code()
    if code is not None:
        call.end(code, reason=_refusal_reason(context))
        return True
    report("server hook", exc)
    return False


def _refusal_reason(context: Any) -> str | None:
    """The ``x-resilience-reject`` value (a RejectReason's) a hook set before aborting, or
    None (a plain abort, or a value that is no RejectReason: metric labels stay bounded)."""
    try:
        trailing = context.trailing_metadata()
    except Exception:  # a context without it: the abort still ends the call
        return None
    for key, value in trailing or ():
        if key == REJECT and value in REASON_VALUES:
            return str(value)
    return None


def run_hooks(
    hooks: tuple[ServerHook, ...], method: str, request: Any, context: Any, call: ServerCall
) -> Any:
    """Run sync hooks in order; return the request, possibly replaced by a hook."""
    metadata = dict(context.invocation_metadata() or ())
    for hook in hooks:
        try:
            replaced = hook(method, metadata, request, context)
        except Exception as exc:
            if hook_failed(call, context, exc):
                raise
            continue
        if replaced is not None:
            request = replaced
    return request
