"""grpc.aio multi-callables of :class:`resilience.failover.AioDualCenterChannel`.

The same straight line as the sync twins (:mod:`resilience.failover._callables`) over the same
:class:`FailoverCore`; only the waiting differs, and it lives in the call objects of
:mod:`resilience.failover._aio_calls`. A call that may not fail over returns gRPC's own call.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio

from resilience._base.keys import replayable
from resilience.failover._aio_calls import (
    StreamStreamCall,
    StreamUnaryCall,
    UnaryStreamCall,
    UnaryUnaryCall,
)
from resilience.failover._requests import AioRequestLog, Attempts, Shape, WriteQueue, call_options

if TYPE_CHECKING:
    _UnaryUnaryBase = grpc.aio.UnaryUnaryMultiCallable[Any, Any]
    _UnaryStreamBase = grpc.aio.UnaryStreamMultiCallable[Any, Any]
    _StreamUnaryBase = grpc.aio.StreamUnaryMultiCallable[Any, Any]
    _StreamStreamBase = grpc.aio.StreamStreamMultiCallable[Any, Any]
else:
    _UnaryUnaryBase = grpc.aio.UnaryUnaryMultiCallable
    _UnaryStreamBase = grpc.aio.UnaryStreamMultiCallable
    _StreamUnaryBase = grpc.aio.StreamUnaryMultiCallable
    _StreamStreamBase = grpc.aio.StreamStreamMultiCallable

_RequestStream = AsyncIterator[Any] | Iterator[Any] | None


class _AioShape(Shape):
    """Starts aio calls of any shape; a call that may fail over gets a failover call object."""

    def _start(
        self,
        call_class: type[Any],
        request: Any,
        timeout: float | None,
        metadata: Any,
        options: dict[str, Any],
        *,
        streaming_requests: bool,
    ) -> Any:
        metadata = replayable(metadata)  # read by the plan, sent by each attempt
        plan = self._core.start(self._method, timeout, metadata)
        if plan is None:
            return self._local(request, timeout=timeout, metadata=metadata, **options)
        writes: WriteQueue[Any] | None = None
        if streaming_requests and request is None:
            writes = WriteQueue()
            request = writes
        log_type = AioRequestLog if streaming_requests else None
        attempts = self._attempts(plan, request, log_type, options)
        local = _invoke(self._local, attempts, timeout=timeout, metadata=metadata, **options)
        return call_class(local, attempts, self._start_remote, writes)

    def _start_remote(self, attempts: Attempts) -> Any:
        return _invoke(self._remote, attempts, **attempts.remote_options())


def _invoke(multi_callable: Any, attempts: Attempts, **kwargs: Any) -> Any:
    """Start one attempt; a request stream ends only once the call has started or failed.

    grpc.aio half-closes a call as soon as its request iterator ends; when that happens before
    the call has sent its headers and the call then fails (a center that refuses connections),
    gRPC cancels the call itself, and awaiting it raises ``asyncio.CancelledError`` instead of
    the ``AioRpcError`` (UNAVAILABLE) that would fail over. Waiting for the call's start before
    ending the stream lets gRPC see the failure first and report it as a status.
    """
    if attempts.log is None:
        return multi_callable(attempts.message(), **kwargs)
    requests = _EndAfterStart(attempts.message())
    call = multi_callable(requests, **kwargs)
    requests.call = call
    return call


class _EndAfterStart:
    """An async request stream that, once exhausted, waits for ``call`` to start (or fail)."""

    def __init__(self, messages: AsyncIterator[Any]) -> None:
        self.call: Any = None
        self._messages = messages

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._stream()

    async def _stream(self) -> AsyncIterator[Any]:
        async for message in self._messages:
            yield message
        if self.call is not None:
            with contextlib.suppress(grpc.RpcError):
                await self.call.wait_for_connection()


class AioUnaryUnary(_AioShape, _UnaryUnaryBase):
    def __call__(
        self,
        request: Any,
        *,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Any:
        options = call_options(credentials, wait_for_ready, compression)
        return self._start(
            UnaryUnaryCall, request, timeout, metadata, options, streaming_requests=False
        )


class AioUnaryStream(_AioShape, _UnaryStreamBase):
    def __call__(
        self,
        request: Any,
        *,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Any:
        options = call_options(credentials, wait_for_ready, compression)
        return self._start(
            UnaryStreamCall, request, timeout, metadata, options, streaming_requests=False
        )


class AioStreamUnary(_AioShape, _StreamUnaryBase):
    def __call__(
        self,
        request_iterator: _RequestStream = None,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Any:
        options = call_options(credentials, wait_for_ready, compression)
        return self._start(
            StreamUnaryCall, request_iterator, timeout, metadata, options, streaming_requests=True
        )


class AioStreamStream(_AioShape, _StreamStreamBase):
    def __call__(
        self,
        request_iterator: _RequestStream = None,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Any:
        options = call_options(credentials, wait_for_ready, compression)
        return self._start(
            StreamStreamCall, request_iterator, timeout, metadata, options, streaming_requests=True
        )
