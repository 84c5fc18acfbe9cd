"""The sync server interceptor: one ``grpc.ServerInterceptor`` running the whole server stack."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

import grpc
from opentelemetry.context import attach

from resilience._base.clock import Clock, default_clock
from resilience.context import set_call_context
from resilience.events import Observer, ServerHook
from resilience.interceptors._bulkheads import hold
from resilience.interceptors._facade import ServerFacade
from resilience.interceptors._protected_server import ProtectedServer
from resilience.interceptors._server_call import ServerCall
from resilience.interceptors._server_common import (
    LEFT_QUEUE,
    code_after_cancel,
    code_after_return,
    details_set,
    ended_by_exception,
    ended_while_waiting,
    enter,
    log_crash,
    log_raised_after_code,
    run_hooks,
)
from resilience.interceptors._shapes import Handler, Shape
from resilience.observability.sentry import generic_internal_message
from resilience.policy import Policy

_OK = grpc.StatusCode.OK


class ServerInterceptor(ServerFacade, grpc.ServerInterceptor):
    """Protects a sync ``grpc.server`` and carries each call's context into its handler.

    Per call, for all four RPC shapes: the caller's trace context, traffic color, tier (honored
    only from ``policy.trusted_peers``, else the method's policy tier), failover mark and
    deadline become current for the handler's duration (:mod:`resilience.context` and
    OpenTelemetry's context), so calls the handler makes through a :class:`ClientInterceptor`
    carry them on. Then the method's overload guard and rate limit admit the call or end it with
    RESOURCE_EXHAUSTED, details naming the limit, trailing ``x-resilience-reject`` and, when
    known, ``grpc-retry-pushback-ms``. Observers hear of every call's start and end.

    ``policy``: per-method settings (default :meth:`Policy.default`: propagation on, no limits).
    ``observers``: receive ``call_started``/``call_ended`` (default: the metrics observer and
    the crash reporter of :mod:`resilience.observability`; ``()`` for none). ``clock``: seconds,
    for the algorithms and call durations. ``hooks``: plug-ins run before admission, in the
    call's contexts (fault injection, traffic recording; see
    :data:`resilience.events.ServerHook`). Usage::

        server = grpc.server(executor, interceptors=[ServerInterceptor(policy)])
    """

    _AIO = False

    def __init__(
        self,
        policy: Policy | None = None,
        *,
        observers: Sequence[Observer] | None = None,
        clock: Clock = default_clock,
        hooks: Sequence[ServerHook] = (),
    ) -> None:
        super().__init__(policy, observers, clock, hooks)

    def protect(self, server: grpc.Server) -> grpc.Server:
        """``server`` (a ``grpc.server(...)`` built without this interceptor) with every
        handler registered on it, before (protected in place) and from now on, running this
        stack, wrapped once at registration instead of intercepted per call (gRPC's
        interception machinery skipped: the faster way, same behaviour). Register the
        services on the returned server (generated ``add_*Servicer_to_server`` functions
        included); everything else is the wrapped server's. Usage::

            server = ServerInterceptor(policy).protect(grpc.server(executor))
            add_GreeterServicer_to_server(Greeter(), server)
        """
        return ProtectedServer(server, self)

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Handler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        return self._handlers.get(handler_call_details.method, handler)

    def _wrap(self, method: str, shape: Shape, behavior: Callable[..., Any]) -> Callable[..., Any]:
        pipeline = self._pipeline
        hooks = self._hooks
        if shape.response_streaming:

            def stream_behavior(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                call = pipeline.start(method, context)
                scope = contextvars.copy_context()
                scope.run(enter, call)
                if hooks:
                    request = scope.run(run_hooks, hooks, method, request, context, call)
                if pipeline.admit(call) is not None:
                    _reject(call, context)
                if call.state.bulkhead is not None:
                    scope.run(_queue, call, context)
                yield from _stream(call, method, scope, behavior, request, context)

            return stream_behavior

        request_streaming = shape.request_streaming

        def in_scope(request: Any, context: grpc.ServicerContext) -> Any:
            # enter() and code_after_return() inlined: the per-call path of the usual shape
            # runs in this one frame (fewer frames and code objects to fetch, cold).
            call = pipeline.start(method, context)
            set_call_context(call.call_context)  # in the call's own Context (unary_behavior)
            if call.otel_context is not None:
                attach(call.otel_context)
            if hooks:
                request = run_hooks(hooks, method, request, context, call)
            if pipeline.admit(call) is not None:
                _reject(call, context)
            if call.state.bulkhead is not None:
                _queue(call, context)
            try:
                response = behavior(request, context)
            except Exception as exc:
                _ended_by(call, method, context, exc)
                raise
            if request_streaming:  # its requests may have ended with a cancel: _end_with_rpc
                _end_with_rpc(call, contextvars.copy_context(), context)
            elif context.is_active():
                code = context.code()  # type: ignore[attr-defined]  # grpcio >= 1.38, not stubbed
                call.end(_OK if code is None else code)
            else:
                call.end(code_after_cancel(context))
            return response

        def unary_behavior(request: Any, context: grpc.ServicerContext) -> Any:
            # The whole call runs in a Context of its own: nothing it sets outlives it.
            return contextvars.copy_context().run(in_scope, request, context)

        return unary_behavior


def _ended_by(call: ServerCall, method: str, context: grpc.ServicerContext, exc: Exception) -> None:
    """End a call whose handler raised; a crash is answered UNKNOWN (as by gRPC) with a generic
    message (``context.abort`` raises, chained to the handler's exception)."""
    code, exception, crashed = ended_by_exception(context, exc)
    call.end(code, exception)
    if crashed:
        log_crash(method, exc)
        context.abort(code, generic_internal_message())
    elif exception is not None:  # raised after set_code: that code, the details it set
        log_raised_after_code(method, code, exc)
        context.abort(code, details_set(context))


def _reject(call: ServerCall, context: grpc.ServicerContext) -> None:
    rejection = call.rejection
    assert rejection is not None
    call.end(rejection.code)
    context.set_trailing_metadata(rejection.trailing_metadata)
    context.abort(rejection.code, rejection.details)


def _queue(call: ServerCall, context: grpc.ServicerContext) -> None:
    """Take the call's place in its method's bulkhead, waiting in this worker thread (see
    :func:`._bulkheads.hold`), or end the call: refused (RESOURCE_EXHAUSTED), or over while it
    waited (the caller cancelled it, its deadline passed: it ends with that code, any place
    granted meanwhile freed). Both end by ``context.abort``, which raises."""
    rejection = hold(call, partial(_stop_on_end, context))
    if ended_while_waiting(context):
        code = code_after_cancel(context)
        call.rejection = None  # not a refusal: the caller's end
        call.end(code)
        context.abort(code, LEFT_QUEUE)
    if rejection is not None:
        _reject(call, context)


def _stop_on_end(context: grpc.ServicerContext, stop: Callable[[], None]) -> None:
    """Call ``stop`` when the RPC ends (cancelled, deadline passed), or now if it has."""
    if not context.add_callback(stop):
        stop()


def _stream(
    call: ServerCall,
    method: str,
    scope: contextvars.Context,
    behavior: Callable[..., Any],
    request: Any,
    context: grpc.ServicerContext,
) -> Iterator[Any]:
    """Run a response-streaming handler, each step in the call's own Context (so nothing is
    left set in the worker thread between steps)."""
    try:
        responses = scope.run(behavior, request, context)
        while True:
            try:
                response = scope.run(next, responses)
            except StopIteration:
                break
            yield response
    except GeneratorExit:  # the server stopped iterating: the client went away
        call.end(code_after_cancel(context))
        raise
    except Exception as exc:
        _ended_by(call, method, context, exc)
        raise
    _end_with_rpc(call, scope, context)


def _end_with_rpc(call: ServerCall, scope: contextvars.Context, context: Any) -> None:
    """End a call whose streaming handler (request or response stream) returned with the
    status gRPC ends the RPC with: CANCELLED (DEADLINE_EXCEEDED past the deadline) when the
    client went away, else the code the handler set, else OK.

    The handler's return is not the RPC's end. A client's cancellation fails the request
    stream's pending read, and gRPC's sync server ends the handler's request iterator on that
    failed read (as on a half-close) before it handles the cancellation itself; a handler that
    returns at the end of its requests then returns normally from a cancelled call, with
    ``context.is_active()`` still true. gRPC runs the RPC's callbacks once both are handled, so
    the call ends there (at once if the RPC is over already)."""
    code = code_after_return(context)

    def end() -> None:
        scope.run(call.end, code_after_cancel(context) if _cancelled(context) else code)

    if not context.add_callback(end):
        end()


def _cancelled(context: Any) -> bool:
    """Whether gRPC's sync server saw the client cancel the RPC (or its deadline pass): the
    client side of the RPC's state, which no public method gives once the RPC is over (then
    ``is_active()`` is false either way). False where a context has no such state."""
    return getattr(getattr(context, "_state", None), "client", None) == "cancelled"
