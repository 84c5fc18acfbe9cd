"""Sync multi-callables of :class:`resilience.failover.DualCenterChannel`, one per RPC shape.

Each holds the local and the remote channel's multi-callable for one method. A call that may not
fail over (:meth:`FailoverCore.start` returned None) goes straight to the local multi-callable
and returns gRPC's own object; an eligible one runs the local attempt and at most one remote
attempt through the shared core.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import grpc

from resilience._base.keys import replayable
from resilience.failover._calls import ResponseStream
from resilience.failover._future import FailoverFuture
from resilience.failover._requests import Attempts, RequestLog, Shape, call_options

if TYPE_CHECKING:
    _UnaryUnaryBase = grpc.UnaryUnaryMultiCallable[Any, Any]
    _UnaryStreamBase = grpc.UnaryStreamMultiCallable[Any, Any]
    _StreamUnaryBase = grpc.StreamUnaryMultiCallable[Any, Any]
    _StreamStreamBase = grpc.StreamStreamMultiCallable[Any, Any]
else:
    _UnaryUnaryBase = grpc.UnaryUnaryMultiCallable
    _UnaryStreamBase = grpc.UnaryStreamMultiCallable
    _StreamUnaryBase = grpc.StreamUnaryMultiCallable
    _StreamStreamBase = grpc.StreamStreamMultiCallable


class _Shape(Shape):
    """The sync calls of any shape: blocking, ``future()`` and response streams."""

    _streaming_requests = False

    def _start(
        self, request: Any, timeout: float | None, metadata: Any, options: dict[str, Any]
    ) -> Attempts | None:
        """The attempts of a call that may fail over, else None."""
        plan = self._core.start(self._method, timeout, metadata)
        if plan is None:
            return None
        log_type = RequestLog if self._streaming_requests else None
        return self._attempts(plan, request, log_type, options)

    def _blocking(
        self, how: str, request: Any, timeout: float | None, metadata: Any, options: dict[str, Any]
    ) -> Any:
        """``__call__`` or ``with_call`` (``how``) on the local attempt, then maybe the remote."""
        metadata = replayable(metadata)  # read by the plan, sent by each attempt
        attempts = self._start(request, timeout, metadata, options)
        if attempts is None:
            return getattr(self._local, how)(request, timeout=timeout, metadata=metadata, **options)
        try:
            return getattr(self._local, how)(
                attempts.message(), timeout=timeout, metadata=metadata, **options
            )
        except grpc.RpcError as error:
            if not attempts.admit(error):
                raise
            try:
                result = getattr(self._remote, how)(attempts.message(), **attempts.remote_options())
            except grpc.RpcError as remote_error:
                attempts.finish(remote_error)
                raise
            attempts.finish(None)
            return result
        finally:
            attempts.release()

    def _future(
        self, request: Any, timeout: float | None, metadata: Any, options: dict[str, Any]
    ) -> Any:
        metadata = replayable(metadata)  # read by the plan, sent by each attempt
        attempts = self._start(request, timeout, metadata, options)
        if attempts is None:
            return self._local.future(request, timeout=timeout, metadata=metadata, **options)
        local = self._local.future(
            attempts.message(), timeout=timeout, metadata=metadata, **options
        )
        return FailoverFuture(
            local, self._fail_over(attempts, "future"), attempts.finish, attempts.release
        )

    def _stream(
        self, request: Any, timeout: float | None, metadata: Any, options: dict[str, Any]
    ) -> Any:
        metadata = replayable(metadata)  # read by the plan, sent by each attempt
        attempts = self._start(request, timeout, metadata, options)
        if attempts is None:
            return self._local(request, timeout=timeout, metadata=metadata, **options)
        local = self._local(attempts.message(), timeout=timeout, metadata=metadata, **options)
        fail_over = self._fail_over(attempts, "__call__")
        return ResponseStream(
            local, fail_over, attempts.finish, attempts.release, self._core.worthy
        )

    def _fail_over(self, attempts: Attempts, how: str) -> Callable[[BaseException], Any]:
        def fail_over(error: BaseException) -> Any:
            if not attempts.admit(error):
                return None
            try:
                return getattr(self._remote, how)(attempts.message(), **attempts.remote_options())
            except Exception as remote_error:  # could not even start: the local error stands
                attempts.finish(remote_error)
                return None

        return fail_over


class UnaryUnary(_Shape, _UnaryUnaryBase):
    def __call__(
        self,
        request: Any,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Any:
        options = call_options(credentials, wait_for_ready, compression)
        return self._blocking("__call__", request, timeout, metadata, options)

    def with_call(
        self,
        request: Any,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> tuple[Any, grpc.Call]:
        options = call_options(credentials, wait_for_ready, compression)
        return self._blocking("with_call", request, timeout, metadata, options)  # type: ignore[no-any-return]

    def future(
        self,
        request: Any,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Any:
        options = call_options(credentials, wait_for_ready, compression)
        return self._future(request, timeout, metadata, options)


class UnaryStream(_Shape, _UnaryStreamBase):
    def __call__(
        self,
        request: Any,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Any:
        options = call_options(credentials, wait_for_ready, compression)
        return self._stream(request, timeout, metadata, options)


class StreamUnary(_Shape, _StreamUnaryBase):
    _streaming_requests = True

    def __call__(
        self,
        request_iterator: Iterator[Any],
        timeout: float | None = None,
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Any:
        options = call_options(credentials, wait_for_ready, compression)
        return self._blocking("__call__", request_iterator, timeout, metadata, options)

    def with_call(
        self,
        request_iterator: Iterator[Any],
        timeout: float | None = None,
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> tuple[Any, grpc.Call]:
        options = call_options(credentials, wait_for_ready, compression)
        return self._blocking("with_call", request_iterator, timeout, metadata, options)  # type: ignore[no-any-return]

    def future(
        self,
        request_iterator: Iterator[Any],
        timeout: float | None = None,
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Any:
        options = call_options(credentials, wait_for_ready, compression)
        return self._future(request_iterator, timeout, metadata, options)


class StreamStream(_Shape, _StreamStreamBase):
    _streaming_requests = True

    def __call__(
        self,
        request_iterator: Iterator[Any],
        timeout: float | None = None,
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Any:
        options = call_options(credentials, wait_for_ready, compression)
        return self._stream(request_iterator, timeout, metadata, options)
