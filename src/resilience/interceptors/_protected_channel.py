"""A sync channel whose multi-callables carry the client stack (no ``grpc.intercept_channel``).

``grpc.intercept_channel`` runs every call through gRPC's interception layer: a continuation
closure, call details rebuilt, a blocking call turned into ``with_call`` and an outcome object.
A :class:`ProtectedChannel` instead hands out multi-callables that start the call through the
same pipeline as :class:`ClientInterceptor` (:func:`resilience.interceptors.client.begin`),
call the wrapped channel's own multi-callable with the chosen timeout and metadata, and record
the status when the call ends (see :mod:`._protected_calls`). This module is gRPC's surface:
the multi-callable of each shape, with gRPC's signatures, and the channel that hands them out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import grpc

from resilience._base.channels import Deserializer, Serializer, ShapeFactories
from resilience.interceptors._facade import ClientFacade
from resilience.interceptors._protected_calls import _MultiCallable


class _UnaryResponse(_MultiCallable):
    """``__call__``, ``with_call`` and ``future`` (unary-unary and stream-unary)."""

    __slots__ = ()

    def __call__(
        self,
        request: Any,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Any:
        options = (credentials, wait_for_ready, compression)
        return self._blocking(self._inner.__call__, request, timeout, metadata, options)

    def with_call(
        self,
        request: Any,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Any:
        options = (credentials, wait_for_ready, compression)
        return self._blocking(self._inner.with_call, request, timeout, metadata, options, True)

    def future(
        self,
        request: Any,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Any:
        options = (credentials, wait_for_ready, compression)
        return self._started(self._inner.future, request, timeout, metadata, options)


class _StreamResponse(_MultiCallable):
    """``__call__`` returning the response stream (unary-stream and stream-stream)."""

    __slots__ = ()
    _streaming = True

    def __call__(
        self,
        request: Any,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Any:
        options = (credentials, wait_for_ready, compression)
        return self._started(self._inner.__call__, request, timeout, metadata, options)


if TYPE_CHECKING:
    _UU = grpc.UnaryUnaryMultiCallable[Any, Any]
    _US = grpc.UnaryStreamMultiCallable[Any, Any]
    _SU = grpc.StreamUnaryMultiCallable[Any, Any]
    _SS = grpc.StreamStreamMultiCallable[Any, Any]
else:
    _UU = grpc.UnaryUnaryMultiCallable
    _US = grpc.UnaryStreamMultiCallable
    _SU = grpc.StreamUnaryMultiCallable
    _SS = grpc.StreamStreamMultiCallable


class UnaryUnary(_UnaryResponse, _UU):
    __slots__ = ()


class UnaryStream(_StreamResponse, _US):
    __slots__ = ()


class StreamUnary(_UnaryResponse, _SU):
    __slots__ = ()
    _streaming = True


class StreamStream(_StreamResponse, _SS):
    __slots__ = ()


_KINDS: dict[str, type[_MultiCallable]] = {
    "unary_unary": UnaryUnary,
    "unary_stream": UnaryStream,
    "stream_unary": StreamUnary,
    "stream_stream": StreamStream,
}


class ProtectedChannel(ShapeFactories, grpc.Channel):
    """A ``grpc.Channel`` whose calls run the stack of a :class:`ClientInterceptor` (see
    :meth:`ClientInterceptor.protect`); closing it closes the wrapped channel."""

    def __init__(self, channel: grpc.Channel, owner: ClientFacade) -> None:
        if not isinstance(channel, grpc.Channel):
            raise TypeError(
                f"expected a grpc.Channel (grpc.insecure_channel(...) or secure_channel), got "
                f"{channel!r}; for a grpc.aio channel use AioClientInterceptor(...).protect"
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
        return _KINDS[shape](inner, method, self._owner, de)

    def subscribe(self, callback: Callable[..., Any], try_to_connect: bool = False) -> None:
        self._channel.subscribe(callback, try_to_connect)

    def unsubscribe(self, callback: Callable[..., Any]) -> None:
        self._channel.unsubscribe(callback)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> ProtectedChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ProtectedChannel({self._channel!r}, {self._owner!r})"
