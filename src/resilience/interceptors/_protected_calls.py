"""How a call of a :class:`~._protected_channel.ProtectedChannel` runs, whatever its shape:
started through the client pipeline (:func:`._sync_call.begin`), sent with the wrapped
channel's own multi-callable with the chosen timeout and metadata, and its status recorded
when it ends: for a blocking call, on return or from the raised error; else through the
future's or stream's done callback, as the interceptor does. A read method's unary call is
retried or hedged here as its policy asks, and a failed unary-unary call may be answered by
the policy's ``fallback``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

import grpc
from opentelemetry.context import attach, detach

from resilience._base.channels import Deserializer
from resilience._base.keys import replayable
from resilience.interceptors._answered import Answered
from resilience.interceptors._client_call import ClientCall
from resilience.interceptors._facade import ClientFacade
from resilience.interceptors._fallbacks import respond
from resilience.interceptors._pipeline import Rejection
from resilience.interceptors._plain_stream import recorded
from resilience.interceptors._sync_call import LocalRejection, begin, closed_while_queued, held
from resilience.interceptors._sync_hedge import HedgedFuture
from resilience.interceptors._sync_retry import RetriedFuture

_OK = grpc.StatusCode.OK
_CANCELLED = grpc.StatusCode.CANCELLED
_sleep = time.sleep


class _MultiCallable:
    """One method of the protected channel, any shape: the wrapped multi-callable and the
    owner's pipeline. ``_streaming``: the request or the response is a stream."""

    __slots__ = ("_deserializer", "_inner", "_method", "_owner", "_pipeline")
    _streaming = False

    def __init__(
        self, inner: Any, method: str, owner: ClientFacade, deserializer: Deserializer = None
    ) -> None:
        self._inner = inner
        self._method = method
        self._owner = owner  # keeps the owner's gauges registered while the stub lives
        self._pipeline = owner._pipeline
        self._deserializer = deserializer  # for a fallback's empty response

    def _begin(self, timeout: float | None, metadata: Any) -> ClientCall:
        pipeline = self._pipeline
        if pipeline.injector is None:  # no chaos configured: straight to the pipeline
            call = pipeline.start(self._method, timeout, metadata, self._streaming)
            if not isinstance(call, Rejection) and call.state.bulkhead is not None:
                call = held(call)  # a place in the method's bulkhead first
        else:
            call = begin(pipeline, self._method, timeout, metadata, self._streaming)
        if isinstance(call, Rejection):
            raise LocalRejection(call)
        return call

    def _blocking(
        self,
        invoke: Callable[..., Any],
        request: Any,
        timeout: float | None,
        metadata: Any,
        options: tuple[Any, Any, Any],
        pair: bool = False,
    ) -> Any:
        """A call that returns when it ended (``__call__``, or ``with_call`` with ``pair``);
        a read method's unary call with a ``retry`` section is retried here, the backoff
        waited in the caller's thread; one with a ``hedging`` section is sent as futures, the
        caller's thread sending the hedges as they fall due. A unary-unary call that failed
        in the end (a local refusal included) may be answered by the policy's ``fallback``."""
        if metadata is not None and metadata.__class__ is not tuple:  # see replayable
            metadata = replayable(metadata)
        try:
            call = self._begin(timeout, metadata)
            retry = call.state.retry
            if self._streaming or (retry is None and call.state.hedge is None):
                return self._complete(call, invoke, request, options)
            if retry is None:
                hedged = self._hedged(call, request, timeout, metadata, options, True)
                response = hedged.result()
                return (response, hedged) if pair else response
            retried = retry.start(call.state.method, timeout, self._pipeline.listeners)
            while True:
                try:
                    return self._complete(call, invoke, request, options)
                except grpc.RpcError as error:
                    wait = retried.delay(_code(error), _trailing(error))
                    if wait is None:
                        raise
                _sleep(wait)
                call = self._begin(retried.left(), metadata)
        except grpc.RpcError as error:  # a LocalRejection too
            return self._fallen_back(request, error, pair)

    def _complete(
        self, call: ClientCall, invoke: Callable[..., Any], request: Any, options: Any
    ) -> Any:
        """Send ``call`` and wait for its end; its status is recorded."""
        inner = call.inner_context
        token = None if inner is None else attach(inner)  # see _metadata.inner_context
        try:
            result = invoke(request, call.timeout, call.metadata, *options)
        except grpc.RpcError as error:
            call.failed(error)
            raise
        except BaseException as error:  # never sent (a closed channel, a bad request)
            closed = closed_while_queued(call, error)
            call.end(_CANCELLED)
            if closed is None:
                raise
            raise closed from None
        finally:
            if token is not None:
                detach(token)
        call.end(_OK)  # gRPC returns only what ended OK (it raises any other status)
        return result

    def _fallen_back(self, request: Any, error: Any, paired: bool) -> Any:
        """The fallback's answer to a call that raised ``error`` (``(response, call)`` when
        ``paired``), or ``error`` raised again (see :mod:`._fallbacks`)."""
        code = _code(error)
        answer = None
        if not self._streaming:
            trailing = error.trailing_metadata()
            answer = self._owner._answer(self._method, code, trailing, self._deserializer)
        if answer is None:
            raise error
        owner = self._owner
        answered, response = respond(answer, request, error, code, owner._fallback_observers)
        if not answered:
            raise error
        return (response, Answered(response, error)) if paired else response

    def _started(
        self,
        invoke: Callable[..., Any],
        request: Any,
        timeout: float | None,
        metadata: Any,
        options: tuple[Any, Any, Any],
    ) -> Any:
        """A call that returns while in flight (``future()``, a response stream): its status
        is recorded by its done callback. A read method's unary ``future()`` with a ``retry``
        section returns a :class:`RetriedFuture`, retried from its attempts' callbacks."""
        if metadata is not None and metadata.__class__ is not tuple:  # see replayable
            metadata = replayable(metadata)
        try:
            call = self._begin(timeout, metadata)
        except LocalRejection as rejection:
            return rejection  # a Future and an iterator that raise it
        state = call.state
        retry, hedge = state.retry, state.hedge
        if self._streaming or (retry is None and hedge is None):
            return self._send(call, invoke, request, options)
        if retry is None:
            return self._hedged(call, request, timeout, metadata, options, False)
        future = self._send(call, invoke, request, options)
        retried = retry.start(state.method, timeout, self._pipeline.listeners)
        return RetriedFuture(
            future, retried, partial(self._again, invoke, request, metadata, options)
        )

    def _hedged(
        self,
        call: ClientCall,
        request: Any,
        timeout: float | None,
        metadata: Any,
        options: tuple[Any, Any, Any],
        blocking: bool,
    ) -> HedgedFuture:
        """Send ``call`` as the first attempt of a hedged call (attempts are ``future()``
        calls; ``blocking``: the caller will wait in ``result()``)."""
        hedge = call.state.hedge
        if hedge is None:  # the callers checked; a policy reload cannot change a state
            raise AssertionError("a hedged call of a method without hedging")
        future = self._inner.future
        hedging = hedge.start(call.state.method, timeout, self._pipeline.listeners)
        first = self._send(call, future, request, options)
        send = partial(self._again, future, request, metadata, options)
        return HedgedFuture(first, hedging, send, blocking)

    def _again(
        self,
        invoke: Callable[..., Any],
        request: Any,
        metadata: Any,
        options: tuple[Any, Any, Any],
        left: float | None,
    ) -> Any:
        """A retry's or hedge's attempt sent with ``future()``, with ``left`` seconds of the
        caller's timeout: its future, or the :class:`LocalRejection` of an attempt refused
        locally."""
        try:
            call = self._begin(left, metadata)
        except LocalRejection as rejection:
            return rejection
        return self._send(call, invoke, request, options)

    def _send(
        self, call: ClientCall, invoke: Callable[..., Any], request: Any, options: Any
    ) -> Any:
        inner = call.inner_context
        token = None if inner is None else attach(inner)
        try:
            future = invoke(request, call.timeout, call.metadata, *options)
        except BaseException as error:
            closed = closed_while_queued(call, error)
            call.end(_CANCELLED)
            if closed is None:
                raise
            return closed
        finally:
            if token is not None:
                detach(token)
        return recorded(future, call)  # a plain iterator too (an instrumented stream)


def _code(error: grpc.RpcError) -> grpc.StatusCode:
    code = getattr(error, "code", None)
    return code() if callable(code) else grpc.StatusCode.UNKNOWN


def _trailing(error: grpc.RpcError) -> Any:
    trailing = getattr(error, "trailing_metadata", None)
    return trailing() if callable(trailing) else None
