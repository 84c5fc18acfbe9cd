"""The ``grpc.aio`` client interceptor: one interceptor for all four shapes of an aio channel."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any, overload

import grpc
import grpc.aio
from opentelemetry.context import attach, detach

from resilience._base.clock import Clock, default_clock
from resilience._base.keys import replayable
from resilience.chaos._apply import aio_delay_within
from resilience.events import Observer
from resilience.interceptors._aio_call_end import _local_error, _record
from resilience.interceptors._aio_protected_channel import AioProtectedChannel
from resilience.interceptors._bulkheads import client_ahold, waited_through_close
from resilience.interceptors._client_hedge import aio_hedged
from resilience.interceptors._client_retry import aio_retried
from resilience.interceptors._facade import ClientFacade
from resilience.interceptors._fallbacks import NO_DESERIALIZER, FallbackFunction, arespond
from resilience.interceptors._pipeline import Rejection
from resilience.policy import Policy

_CANCELLED = grpc.StatusCode.CANCELLED
_Metadata = grpc.aio.Metadata
_CallDetails = grpc.aio.ClientCallDetails  # a namedtuple
_new_details: Callable[..., Any] = tuple.__new__


class _Interceptor:
    """What the four shape interceptors share: the interception itself, the pipeline, and the
    owner (held so that its gauges stay registered while a channel holds only the shapes)."""

    __slots__ = ("_owner", "_pipeline")

    def __init__(self, owner: AioClientInterceptor) -> None:
        self._owner = owner
        self._pipeline = owner._pipeline

    async def _intercept(
        self,
        continuation: Callable[..., Any],
        client_call_details: Any,
        request: Any,
        streaming: bool = False,
        retrying: bool = False,
    ) -> Any:
        """Every shape's interception (``streaming``: the request or the response is a
        stream; ``retrying``: a retry's attempt, not retried itself); the unary shape, the
        usual one, is this coroutine function itself (one frame fewer per call)."""
        details = client_call_details
        metadata = details.metadata
        # grpc.aio hands the interceptor a Metadata, used as it is; other metadata (an outer
        # interceptor's) goes through replayable: a one-shot iterator is read once
        if metadata.__class__ is not _Metadata and metadata is not None:
            replayed = replayable(metadata)
            if replayed is not metadata:
                details = details._replace(metadata=replayed)
        pipeline = self._pipeline
        timeout = details.timeout
        if pipeline.injector is not None:  # chaos configured: a client-side fault first
            fault = pipeline.client_fault(details.method)
            if fault is not None:
                timeout = await aio_delay_within(fault, timeout)  # the delay uses it up
                rejection = pipeline.fault_rejection(details.method, fault, timeout)
                if rejection is not None:
                    return await self._refused(rejection, details, request, streaming or retrying)
        call = pipeline.start(details.method, timeout, details.metadata, streaming)
        if isinstance(call, Rejection):
            return await self._refused(call, details, request, streaming or retrying)
        if call.state.bulkhead is not None:  # a place first, awaited (see _bulkheads)
            rejection = await client_ahold(call)
            if rejection is not None:
                return await self._refused(rejection, details, request, streaming or retrying)
        inner = call.inner_context  # interceptors inside ours see the call's baggage
        token = None if inner is None else attach(inner)
        try:
            metadata = call.metadata
            if metadata is not None and not isinstance(metadata, _Metadata):
                metadata = _Metadata(*metadata)  # not pairs (a dict): raises, the call ends
            outgoing = _new_details(  # tuple.__new__: no generated __new__ frame per call
                _CallDetails,
                (
                    details.method,
                    call.timeout,
                    metadata,
                    details.credentials,
                    details.wait_for_ready,
                ),
            )
            grpc_call = await continuation(outgoing, request)
        except grpc.aio.AioRpcError as error:
            call.end(error.code())
            raise
        except BaseException as error:  # cancelled, or never sent (a closed channel...)
            closed = waited_through_close(call, error)
            call.end(_CANCELLED)
            if closed:  # the close cancels the calls in flight: this one was
                raise asyncio.CancelledError from None
            raise
        finally:
            if token is not None:
                detach(token)
        if grpc_call.done():
            _record(call, grpc_call)
        else:
            grpc_call.add_done_callback(partial(_record, call))
        state = call.state
        if streaming or retrying:
            return grpc_call
        retry, hedge = state.retry, state.hedge
        if state.settings.fallback is None:
            if retry is None and hedge is None:
                return grpc_call
            return await self._attempts(grpc_call, state, continuation, details, request, timeout)
        try:  # the policy's fallback answers a unary call that failed (see _fallbacks)
            if retry is not None or hedge is not None:
                grpc_call = await self._attempts(
                    grpc_call, state, continuation, details, request, timeout
                )
            await grpc_call
        except grpc.aio.AioRpcError as error:
            return await self._answered(error, details.method, request)
        return grpc_call

    async def _attempts(
        self,
        grpc_call: Any,
        state: Any,
        continuation: Callable[..., Any],
        details: Any,
        request: Any,
        timeout: float | None,
    ) -> Any:
        """The call of the last attempt of a call retried or hedged by the policy; ``timeout``:
        the caller's seconds left when the first attempt was sent (None: none)."""
        pipeline = self._pipeline
        again = partial(self._again, continuation, details, request)
        if state.retry is not None:
            retried = state.retry.start(state.method, timeout, pipeline.listeners)
            return await aio_retried(grpc_call, retried, again)
        hedging = state.hedge.start(state.method, timeout, pipeline.listeners)
        return await aio_hedged(grpc_call, hedging, again)

    async def _refused(self, rejection: Rejection, details: Any, request: Any, plain: bool) -> Any:
        """The error of a call refused locally, raised; or, for a unary-unary call that the
        policy's ``fallback`` answers (not ``plain``), the fallback's response."""
        error = _local_error(rejection)
        if plain:
            raise error
        return await self._answered(error, details.method, request)

    async def _answered(self, error: grpc.aio.AioRpcError, method: str, request: Any) -> Any:
        """The response the policy's ``fallback`` gives a unary-unary call that failed with
        ``error`` (a plain response: grpc.aio turns it into the call the caller awaits), or
        ``error`` raised again. The interceptor form knows no response deserializer, so only a
        registered function answers."""
        owner = self._owner
        code = error.code()
        answer = owner._answer(method, code, error.trailing_metadata(), NO_DESERIALIZER)
        if answer is None:
            raise error
        answered, response = await arespond(answer, request, error, code, owner._fallback_observers)
        if not answered:
            raise error
        return response

    async def _again(
        self, continuation: Callable[..., Any], details: Any, request: Any, left: float | None
    ) -> Any:
        """A retry's or hedge's attempt through this interceptor, with ``left`` seconds of the
        caller's timeout (None: none); a breaker drop raises like any local rejection."""
        again = details if left is None else details._replace(timeout=left)
        return await self._intercept(continuation, again, request, False, True)


class _UnaryUnary(_Interceptor, grpc.aio.UnaryUnaryClientInterceptor):
    __slots__ = ()

    intercept_unary_unary = _Interceptor._intercept


class _UnaryStream(_Interceptor, grpc.aio.UnaryStreamClientInterceptor):
    __slots__ = ()

    def intercept_unary_stream(  # type: ignore[override]
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Awaitable[Any]:
        return self._intercept(continuation, client_call_details, request, True)


class _StreamUnary(_Interceptor, grpc.aio.StreamUnaryClientInterceptor):
    __slots__ = ()

    def intercept_stream_unary(  # type: ignore[override]
        self, continuation: Callable[..., Any], client_call_details: Any, request_iterator: Any
    ) -> Awaitable[Any]:
        return self._intercept(continuation, client_call_details, request_iterator, True)


class _StreamStream(_Interceptor, grpc.aio.StreamStreamClientInterceptor):
    __slots__ = ()

    def intercept_stream_stream(  # type: ignore[override]
        self, continuation: Callable[..., Any], client_call_details: Any, request_iterator: Any
    ) -> Awaitable[Any]:
        return self._intercept(continuation, client_call_details, request_iterator, True)


NESTED_LIST_MESSAGE = (
    "AioClientInterceptor is a sequence of four interceptors (one per RPC shape), not one "
    "interceptor: pass it as the whole list, interceptors=AioClientInterceptor(policy), or "
    "unpack it into yours, interceptors=[*AioClientInterceptor(policy), other]"
)
"""The TypeError a grpc.aio channel raises for ``interceptors=[AioClientInterceptor(...)]``."""


class AioClientInterceptor(ClientFacade, Sequence[grpc.aio.ClientInterceptor]):
    """The :class:`~resilience.interceptors.ClientInterceptor` for ``grpc.aio`` channels: the
    same breaker, deadline, metadata and outcome rules, for all four shapes. A call the breaker
    drops raises :class:`grpc.aio.AioRpcError` (UNAVAILABLE, "resilience: rejected by breaker",
    trailing ``x-resilience-reject: breaker``) without touching the network.

    ``fallbacks``: ``{method pattern: function(request, error)}``, the answers of the
    policy's ``fallback`` section for unary-unary calls (a function may be ``async``).

    It is a sequence of four interceptors, one per RPC shape, sharing one pipeline: a
    ``grpc.aio`` channel files an interceptor under the first shape it implements only
    (grpc/grpc#31442), so an object implementing all four would silently skip streams. Pass it
    as the whole list, or unpack it into yours; each call still goes through one interceptor::

        channel = grpc.aio.insecure_channel(target, interceptors=AioClientInterceptor(policy))
        channel = grpc.aio.insecure_channel(target, interceptors=[*resilient, other])
    """

    def __init__(
        self,
        policy: Policy | None = None,
        *,
        observers: Sequence[Observer] | None = None,
        clock: Clock = default_clock,
        fallbacks: Mapping[str, FallbackFunction] | None = None,
    ) -> None:
        super().__init__(policy, observers, clock, fallbacks)
        self._shapes: tuple[grpc.aio.ClientInterceptor, ...] = (
            _UnaryUnary(self),
            _UnaryStream(self),
            _StreamUnary(self),
            _StreamStream(self),
        )

    def protect(self, channel: grpc.aio.Channel) -> grpc.aio.Channel:
        """``channel`` with this stack on every call, carried by its multi-callables instead
        of channel interceptors (gRPC's per-call interception machinery skipped: the faster
        way, same behaviour; calls return gRPC's own call objects). The result is a
        ``grpc.aio.Channel``; closing it closes ``channel``. Usage::

            channel = AioClientInterceptor(policy).protect(grpc.aio.insecure_channel(target))
        """
        return AioProtectedChannel(channel, self)

    @overload
    def __getitem__(self, index: int) -> grpc.aio.ClientInterceptor: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[grpc.aio.ClientInterceptor]: ...

    def __getitem__(
        self, index: int | slice
    ) -> grpc.aio.ClientInterceptor | Sequence[grpc.aio.ClientInterceptor]:
        return self._shapes[index]

    def __len__(self) -> int:
        return len(self._shapes)

    def __repr__(self) -> str:
        return f"AioClientInterceptor({self.policy!r})"

    def __format__(self, format_spec: str) -> str:
        # grpc.aio's channel refuses an item of its interceptor list that is none of the four
        # shapes with ValueError("Interceptor {} must be ...".format(item)): formatting is the
        # only hook it gives us into that mistake (nesting this sequence in a list), so the
        # formatting it asks for answers with what to write instead.
        if sys._getframe(1).f_globals.get("__name__", "").startswith("grpc."):
            raise TypeError(NESTED_LIST_MESSAGE)
        return format(repr(self), format_spec)
