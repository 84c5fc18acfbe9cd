"""The ``grpc.aio`` server interceptor: one ``grpc.aio.ServerInterceptor`` for the whole stack."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio
from opentelemetry.context import attach

from resilience._base.clock import Clock, default_clock
from resilience.context import set_call_context
from resilience.events import Observer, ServerHook
from resilience.interceptors._bulkheads import ahold
from resilience.interceptors._facade import ServerFacade
from resilience.interceptors._protected_server import AioProtectedServer
from resilience.interceptors._server_call import ServerCall
from resilience.interceptors._server_common import (
    LEFT_QUEUE,
    code_after_cancel,
    code_after_return,
    details_set,
    ended_by_exception,
    ended_while_waiting,
    enter,
    hook_failed,
    log_crash,
    log_raised_after_code,
    warn_unprotected,
)
from resilience.interceptors._shapes import Handler, Shape
from resilience.observability.sentry import generic_internal_message
from resilience.policy import Policy

if TYPE_CHECKING:
    pass

Context = Any  # grpc.aio.ServicerContext

WRONG_SERVER = (
    "AioServerInterceptor is for grpc.aio servers, and this is a sync grpc.server: use "
    "ServerInterceptor(policy) there (grpc.server(executor, interceptors=[ServerInterceptor("
    "policy)]), or ServerInterceptor(policy).protect(server))"
)
"""The error of an AioServerInterceptor called by a sync server."""

_OK = grpc.StatusCode.OK


class AioServerInterceptor(ServerFacade, grpc.aio.ServerInterceptor):
    """The :class:`~resilience.interceptors.ServerInterceptor` for ``grpc.aio`` servers: the
    same context extraction, admission, rejection and outcome rules, for all four shapes.

    The call's contexts are set in the RPC's own asyncio task, so they last exactly as long as
    the handler. Handlers must be ``async def`` functions or async generators (the usual aio
    handlers); a plain function given to an aio server with a migration thread pool is passed
    through unprotected. ``hooks`` may be coroutine functions. Usage::

        server = grpc.aio.server(interceptors=[AioServerInterceptor(policy)])
    """

    _AIO = True

    def __init__(
        self,
        policy: Policy | None = None,
        *,
        observers: Sequence[Observer] | None = None,
        clock: Clock = default_clock,
        hooks: Sequence[ServerHook] = (),
    ) -> None:
        super().__init__(policy, observers, clock, hooks)

    def protect(self, server: grpc.aio.Server) -> grpc.aio.Server:
        """``server`` (a ``grpc.aio.server()`` built without this interceptor) with every
        handler registered on it from now on running this stack, wrapped once at registration
        instead of intercepted per call (gRPC's interception machinery skipped: the faster
        way, same behaviour); see :meth:`ServerInterceptor.protect`. Handlers registered on
        ``server`` before stay unprotected (grpc.aio keeps them out of Python's reach):
        register every service on the server returned. Usage::

            server = AioServerInterceptor(policy).protect(grpc.aio.server())
        """
        return AioProtectedServer(server, self)

    def intercept_service(  # type: ignore[override]
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Awaitable[Handler | None]:
        """The call's handler with the stack around it (awaited by the grpc.aio server).
        Raises TypeError saying what to use on a sync ``grpc.server``, which accepts this
        interceptor but whose continuation returns the handler itself, not an awaitable: the
        server logs the error and fails the call at once, where it would get no answer."""
        found = continuation(handler_call_details)
        if not hasattr(found, "__await__"):
            raise TypeError(WRONG_SERVER)
        return self._intercepted(found, handler_call_details.method)

    async def _intercepted(self, found: Awaitable[Handler | None], method: str) -> Handler | None:
        handler = await found
        if handler is None:
            return None
        return self._handlers.get(method, handler)

    def _wrap(self, method: str, shape: Shape, behavior: Callable[..., Any]) -> Callable[..., Any]:
        pipeline = self._pipeline
        hooks = self._hooks

        async def admit(call: ServerCall, request: Any, context: Context) -> Any:
            """Hooks, then admission (a rejected call ends here); the request to handle. A
            call cancelled while it waits here (its caller gave up, its deadline passed, in a
            hook, a fault delay, a store's decision or a bulkhead's queue) ends here too, with
            the caller's code."""
            try:
                if hooks:
                    request = await _run_hooks(hooks, method, request, context, call)
                if pipeline.admit(call) is not None or (
                    call.state.awaited_limiter is not None
                    and await pipeline.admit_awaited(call) is not None
                ):
                    await _reject(call, context)
                if call.state.bulkhead is not None:
                    await _queue(call, context)
            except asyncio.CancelledError:
                call.end(code_after_cancel(context))  # a no-op if it had ended already
                raise
            return request

        async def begin(request: Any, context: Context) -> tuple[ServerCall, Any]:
            call = pipeline.start(method, context)
            enter(call)  # the RPC's own task: its context ends with the call
            if hooks or call.state.waits:
                request = await admit(call, request, context)
            elif pipeline.admit(call) is not None:  # decided at once: no coroutine to await
                await _reject(call, context)
            return call, request

        if inspect.isasyncgenfunction(behavior):

            async def stream_behavior(request: Any, context: Context) -> AsyncIterator[Any]:
                call, request = await begin(request, context)
                try:
                    async for response in behavior(request, context):
                        yield response
                except (asyncio.CancelledError, GeneratorExit):
                    call.end(code_after_cancel(context))
                    raise
                except Exception as exc:
                    await _ended_by(call, method, context, exc)
                    raise
                call.end(code_after_return(context))

            return stream_behavior
        if not inspect.iscoroutinefunction(behavior):
            warn_unprotected(method)
            return behavior

        async def unary_behavior(request: Any, context: Context) -> Any:
            # begin(), enter() and code_after_return() inlined: the per-call path of the usual
            # shape runs in this one frame (fewer frames and code objects to fetch, cold).
            call = pipeline.start(method, context)
            set_call_context(call.call_context)  # the RPC's own task: ends with the call
            if call.otel_context is not None:
                attach(call.otel_context)
            if hooks or call.state.waits:
                request = await admit(call, request, context)
            elif pipeline.admit(call) is not None:
                await _reject(call, context)
            try:
                response = await behavior(request, context)
            except asyncio.CancelledError:
                call.end(code_after_cancel(context))
                raise
            except Exception as exc:
                await _ended_by(call, method, context, exc)
                raise
            code = context.code()
            call.end(_OK if code is None else code)
            return response

        return unary_behavior


async def _ended_by(call: ServerCall, method: str, context: Context, exc: Exception) -> None:
    """End a call whose handler raised; a crash is answered UNKNOWN (as by
    gRPC) with a generic message."""
    code, exception, crashed = ended_by_exception(context, exc)
    call.end(code, exception)
    if crashed:
        log_crash(method, exc)
        await context.abort(code, generic_internal_message())
    elif exception is not None:  # raised after set_code: that code, the details it set
        log_raised_after_code(method, code, exc)
        await context.abort(code, details_set(context))


async def _reject(call: ServerCall, context: Context) -> None:
    rejection = call.rejection
    assert rejection is not None
    call.end(rejection.code)
    await context.abort(rejection.code, rejection.details, rejection.trailing_metadata)


async def _queue(call: ServerCall, context: Context) -> None:
    """Take the call's place in its method's bulkhead, awaiting it (see
    :func:`._bulkheads.ahold`), or end the call: refused (RESOURCE_EXHAUSTED), or over when
    the wait ended with its deadline (it ends DEADLINE_EXCEEDED). A cancellation while
    it waits propagates to :func:`admit`, which ends the call."""
    rejection = await ahold(call)
    if ended_while_waiting(context):
        code = code_after_cancel(context)
        call.rejection = None  # not a refusal: the caller's end
        call.end(code)
        await context.abort(code, LEFT_QUEUE)
    if rejection is not None:
        await _reject(call, context)


async def _run_hooks(
    hooks: tuple[ServerHook, ...], method: str, request: Any, context: Context, call: ServerCall
) -> Any:
    """Run the hooks in order, awaiting those that are coroutines; see ``ServerHook``."""
    metadata = dict(context.invocation_metadata() or ())
    for hook in hooks:
        try:
            replaced = hook(method, metadata, request, context)
            if inspect.isawaitable(replaced):
                replaced = await replaced
        except Exception as exc:
            if hook_failed(call, context, exc):
                raise
            continue
        if replaced is not None:
            request = replaced
    return request
