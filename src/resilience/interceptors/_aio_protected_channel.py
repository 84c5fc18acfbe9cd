"""A ``grpc.aio`` channel whose multi-callables carry the client stack (no channel interceptors).

A grpc.aio channel with interceptors wraps every call in an intercepted call object driven by
a task of its own, awaiting each interceptor's coroutine before the real call starts. An
:class:`AioProtectedChannel` instead starts the call through the same pipeline as
:class:`AioClientInterceptor` and calls the wrapped channel's multi-callable directly, so the
caller gets gRPC's own call object, with the status recorded by its done callback.

A call that cannot start at once (a client-side fault's delay, a wait for a bulkhead place)
or that is refused locally (a
breaker drop, an injected abort) gets a :class:`DeferredCall` instead, which behaves as a
grpc.aio call: awaiting or iterating it raises the refusal as :class:`grpc.aio.AioRpcError`.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio
from opentelemetry.context import attach, detach

from resilience._base.channels import Deserializer, Serializer, ShapeFactories
from resilience._base.keys import replayable
from resilience.chaos import Fault
from resilience.chaos._apply import aio_delay_within
from resilience.interceptors._aio_call_end import _local_error, _record
from resilience.interceptors._aio_deferred import DeferredCall
from resilience.interceptors._answered import AioAnswered
from resilience.interceptors._bulkheads import client_ahold, waited_through_close
from resilience.interceptors._client_call import ClientCall
from resilience.interceptors._client_hedge import aio_hedged
from resilience.interceptors._client_retry import aio_retried
from resilience.interceptors._facade import ClientFacade
from resilience.interceptors._fallbacks import arespond
from resilience.interceptors._pipeline import Rejection

_CANCELLED = grpc.StatusCode.CANCELLED
_Metadata = grpc.aio.Metadata


class _MultiCallable:
    """One method of the protected aio channel, any shape."""

    __slots__ = ("_deserializer", "_inner", "_method", "_owner", "_pipeline", "_streaming")

    def __init__(
        self, inner: Any, method: str, owner: ClientFacade, streaming: bool, de: Deserializer
    ):
        self._deserializer = de  # for a fallback's empty response
        self._inner = inner
        self._method = method
        self._owner = owner  # keeps the owner's gauges registered while the stub lives
        self._pipeline = owner._pipeline
        self._streaming = streaming

    def __call__(
        self,
        request: Any = None,
        *,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Any:
        options = (credentials, wait_for_ready, compression)
        if metadata is not None and metadata.__class__ is not tuple:  # see replayable
            metadata = replayable(metadata)
        pipeline = self._pipeline
        if pipeline.injector is not None:  # chaos configured: a client-side fault first
            fault = pipeline.client_fault(self._method)
            if fault is not None:
                return DeferredCall(self._faulted(fault, request, timeout, metadata, options))
        call = pipeline.start(self._method, timeout, metadata, self._streaming)
        if isinstance(call, Rejection):
            return DeferredCall(self._refused(call, request))
        state = call.state
        if state.bulkhead is None and (
            self._streaming
            or (state.retry is None and state.hedge is None and state.settings.fallback is None)
        ):
            return self._send(call, request, options)
        return DeferredCall(self._held(call, request, timeout, metadata, options))

    async def _held(
        self,
        call: ClientCall,
        request: Any,
        timeout: float | None,
        metadata: Any,
        options: tuple[Any, Any, Any],
    ) -> Any:
        """Send ``call`` (see :meth:`_placed`); a read method's unary call with a ``retry``
        section is retried (see :func:`aio_retried`), one with a ``hedging`` section hedged
        (see :func:`aio_hedged`), and the call of the attempt that decided it is the
        caller's; a unary-unary call's failure (a local refusal included) may be answered by
        the policy's ``fallback`` (:meth:`_answered`)."""
        state = call.state
        try:
            first = await self._placed(call, request, options)
            if self._streaming:
                return first
            again = partial(self._again, request, metadata, options)
            listeners = self._pipeline.listeners
            if state.retry is not None:
                first = await aio_retried(
                    first, state.retry.start(state.method, timeout, listeners), again
                )
            elif state.hedge is not None:
                first = await aio_hedged(
                    first, state.hedge.start(state.method, timeout, listeners), again
                )
            if state.settings.fallback is None:
                return first
            await first  # its failure may be answered by the policy's fallback
        except grpc.aio.AioRpcError as error:
            return await self._answered(error, request)
        return first

    async def _placed(self, call: ClientCall, request: Any, options: Any) -> Any:
        """Send ``call`` once it holds a place in its method's bulkhead (see _bulkheads), or
        raise its rejection."""
        if call.state.bulkhead is not None:
            rejection = await client_ahold(call)
            if rejection is not None:
                raise _local_error(rejection)
        return self._send(call, request, options)

    async def _refused(self, rejection: Rejection, request: Any) -> Any:
        """A call refused locally: its error raised, or the policy's fallback's answer."""
        return await self._answered(_local_error(rejection), request)

    async def _answered(self, error: grpc.aio.AioRpcError, request: Any) -> Any:
        """An :class:`AioAnswered` call with the fallback's response to a unary-unary call
        that failed with ``error`` (the empty message from the method's deserializer, or a
        registered function's answer), or ``error`` raised again (see :mod:`._fallbacks`)."""
        owner = self._owner
        code = error.code()
        answer = None
        if not self._streaming:
            trailing = error.trailing_metadata()
            answer = owner._answer(self._method, code, trailing, self._deserializer)
        if answer is None:
            raise error
        answered, response = await arespond(answer, request, error, code, owner._fallback_observers)
        if not answered:
            raise error
        return AioAnswered(response, error)

    async def _again(
        self, request: Any, metadata: Any, options: tuple[Any, Any, Any], left: float | None
    ) -> Any:
        """A retry's or hedge's attempt (a client-side fault first when chaos is configured), with
        ``left`` seconds of the caller's timeout; a local refusal raises its error."""
        pipeline = self._pipeline
        fault = None if pipeline.injector is None else pipeline.client_fault(self._method)
        if fault is not None:
            left = await aio_delay_within(fault, left)
            rejection = pipeline.fault_rejection(self._method, fault, left)
            if rejection is not None:
                raise _local_error(rejection)
        call = pipeline.start(self._method, left, metadata, False)
        if isinstance(call, Rejection):
            raise _local_error(call)
        return await self._placed(call, request, options)

    def _send(self, call: ClientCall, request: Any, options: tuple[Any, Any, Any]) -> Any:
        credentials, wait_for_ready, compression = options
        inner = call.inner_context  # interceptors inside ours see the call's baggage
        token = None if inner is None else attach(inner)
        try:
            metadata = call.metadata
            if metadata is not None and not isinstance(metadata, _Metadata):
                metadata = _Metadata(*metadata)  # not pairs (a dict): raises, the call ends
            grpc_call = self._inner(
                request,
                timeout=call.timeout,
                metadata=metadata,
                credentials=credentials,
                wait_for_ready=wait_for_ready,
                compression=compression,
            )
        except BaseException as error:  # never sent (a closed channel, bad metadata)
            closed = waited_through_close(call, error)
            call.end(_CANCELLED)
            if closed:  # the close cancels the calls in flight: this one was
                raise asyncio.CancelledError from None
            raise
        finally:
            if token is not None:
                detach(token)
        grpc_call.add_done_callback(partial(_record, call))
        return grpc_call

    async def _faulted(
        self, fault: Fault, request: Any, timeout: float | None, metadata: Any, options: Any
    ) -> Any:
        """A call held by a client-side fault: its delay (using up the caller's ``timeout``, as
        a slow network would), then its abort or the call."""
        timeout = await aio_delay_within(fault, timeout)
        pipeline = self._pipeline
        rejection = pipeline.fault_rejection(self._method, fault, timeout)
        if rejection is not None:
            return await self._refused(rejection, request)
        call = pipeline.start(self._method, timeout, metadata, self._streaming)
        if isinstance(call, Rejection):
            return await self._refused(call, request)
        return await self._held(call, request, timeout, metadata, options)


if TYPE_CHECKING:
    _UU = grpc.aio.UnaryUnaryMultiCallable[Any, Any]
    _US = grpc.aio.UnaryStreamMultiCallable[Any, Any]
    _SU = grpc.aio.StreamUnaryMultiCallable[Any, Any]
    _SS = grpc.aio.StreamStreamMultiCallable[Any, Any]
else:
    _UU = grpc.aio.UnaryUnaryMultiCallable
    _US = grpc.aio.UnaryStreamMultiCallable
    _SU = grpc.aio.StreamUnaryMultiCallable
    _SS = grpc.aio.StreamStreamMultiCallable


class UnaryUnary(_MultiCallable, _UU):
    __slots__ = ()


class UnaryStream(_MultiCallable, _US):
    __slots__ = ()


class StreamUnary(_MultiCallable, _SU):  # type: ignore[misc]  # request_iterator
    __slots__ = ()


class StreamStream(_MultiCallable, _SS):  # type: ignore[misc]  # request_iterator
    __slots__ = ()


_KINDS: dict[str, tuple[type[_MultiCallable], bool]] = {
    "unary_unary": (UnaryUnary, False),
    "unary_stream": (UnaryStream, True),
    "stream_unary": (StreamUnary, True),
    "stream_stream": (StreamStream, True),
}


class AioProtectedChannel(ShapeFactories, grpc.aio.Channel):
    """A ``grpc.aio.Channel`` whose calls run the stack of an :class:`AioClientInterceptor`
    (see :meth:`AioClientInterceptor.protect`); closing it closes the wrapped channel."""

    def __init__(self, channel: grpc.aio.Channel, owner: ClientFacade) -> None:
        if not isinstance(channel, grpc.aio.Channel):
            raise TypeError(
                f"expected a grpc.aio.Channel (grpc.aio.insecure_channel(...) or "
                f"secure_channel), got {channel!r}; for a sync channel use "
                f"ClientInterceptor(...).protect"
            )
        self._channel = channel
        self._owner = owner

    @property
    def protection(self) -> ClientFacade:
        """The interceptor whose stack this channel's calls run (policy, reload, gauges)."""
        return self._owner

    def _multi_callable(
        self, shape: str, method: str, ser: Serializer, de: Deserializer, registered: Any
    ) -> Any:
        extra = {"_registered_method": True} if registered else {}
        inner = getattr(self._channel, shape)(method, ser, de, **extra)
        kind, streaming = _KINDS[shape]
        return kind(inner, method, self._owner, streaming, de)

    async def close(self, grace: float | None = None) -> None:
        await self._channel.close(grace)

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        return self._channel.get_state(try_to_connect)

    async def wait_for_state_change(self, last_observed_state: grpc.ChannelConnectivity) -> None:
        await self._channel.wait_for_state_change(last_observed_state)

    async def channel_ready(self) -> None:
        await self._channel.channel_ready()

    async def __aenter__(self) -> AioProtectedChannel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close(None)

    def __repr__(self) -> str:
        return f"AioProtectedChannel({self._channel!r}, {self._owner!r})"
