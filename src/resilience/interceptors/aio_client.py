"""The ``grpc.aio`` client interceptor: one interceptor for all four shapes of an aio channel."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any, overload

import grpc
import grpc.aio
from opentelemetry.context import attach, detach

from resilience._base.clock import Clock, default_clock
from resilience.chaos._apply import aio_delay_fault
from resilience.events import Observer
from resilience.interceptors._aio_call_end import _local_error, _record
from resilience.interceptors._aio_protected_channel import AioProtectedChannel
from resilience.interceptors._bulkheads import client_ahold
from resilience.interceptors._client_hedge import aio_hedged
from resilience.interceptors._client_retry import aio_retried
from resilience.interceptors._facade import ClientFacade
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
        pipeline = self._pipeline
        if pipeline.injector is not None:  # chaos configured: a client-side fault first
            fault = pipeline.client_fault(details.method)
            if fault is not None:
                await aio_delay_fault(fault)
                rejection = pipeline.fault_rejection(details.method, fault)
                if rejection is not None:
                    raise _local_error(rejection)
        call = pipeline.start(details.method, details.timeout, details.metadata, streaming)
        if isinstance(call, Rejection):
            raise _local_error(call)
        if call.state.bulkhead is not None:  # a place first, awaited (see _bulkheads)
            rejection = await client_ahold(call)
            if rejection is not None:
                raise _local_error(rejection)
        metadata = call.metadata
        if metadata is not None and not isinstance(metadata, _Metadata):
            metadata = _Metadata(*metadata)
        outgoing = _new_details(  # tuple.__new__: no generated __new__ frame per call
            _CallDetails,
            (details.method, call.timeout, metadata, details.credentials, details.wait_for_ready),
        )
        inner = call.inner_context  # interceptors inside ours see the call's baggage
        token = None if inner is None else attach(inner)
        try:
            grpc_call = await continuation(outgoing, request)
        except grpc.aio.AioRpcError as error:
            call.end(error.code())
            raise
        except BaseException:  # cancelled, or never sent (a closed channel): it ends here
            call.end(_CANCELLED)
            raise
        finally:
            if token is not None:
                detach(token)
        if grpc_call.done():
            _record(call, grpc_call)
        else:
            grpc_call.add_done_callback(partial(_record, call))
        state = call.state
        if streaming or retrying or (state.retry is None and state.hedge is None):
            return grpc_call
        again = partial(self._again, continuation, details, request)
        retry, hedge = state.retry, state.hedge
        if retry is not None:
            retried = retry.start(state.method, details.timeout, pipeline.listeners)
            return await aio_retried(grpc_call, retried, again)
        if hedge is not None:
            hedging = hedge.start(state.method, details.timeout, pipeline.listeners)
            return await aio_hedged(grpc_call, hedging, again)
        return grpc_call

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
    ) -> None:
        super().__init__(policy, observers, clock)
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
