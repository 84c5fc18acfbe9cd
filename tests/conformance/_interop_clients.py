"""Drivers that make one interop call through any channel and describe what the caller saw.

:class:`SyncDriver` (``grpc``, here) and :class:`~_interop_aio.AioDriver` (``grpc.aio``) offer
the same operations, each returning an :class:`Outcome`, so a case is written once and its
outcome through the library is compared with bare gRPC's.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import grpc
import grpc.aio
from grpc_status import rpc_status

WAIT = 30.0
"""Seconds any step of a driver waits at most (a hang fails the case instead of the run)."""


class Outcome(NamedTuple):
    """What the caller saw: the exception type raised (``""``: none), the call's status, the
    responses (zero-filled payloads as their sizes), the echo metadata and the rich status."""

    raised: str
    code: grpc.StatusCode | None
    details: str | None
    value: Any
    initial: tuple[tuple[str, Any], ...] = ()
    trailing: tuple[tuple[str, Any], ...] = ()
    rich: tuple[Any, ...] | None = None


def _shape(message: bytes) -> Any:
    return len(message) if message.count(0) == len(message) else message


def _echoed(metadata: Any) -> tuple[tuple[str, Any], ...]:
    """The metadata a test service echoes (the library adds headers of its own)."""
    keep = ("x-grpc-test-", "grpc-status-details-bin")
    return tuple(sorted((k, v) for k, v in (metadata or ()) if k.startswith(keep)))


def _rich(call: Any) -> tuple[Any, ...] | None:
    status = rpc_status.from_call(call)
    if status is None:
        return None
    return (status.code, status.message, tuple(detail.type_url for detail in status.details))


def _raised(error: BaseException | None) -> str:
    if error is None:
        return ""
    return "RpcError" if isinstance(error, grpc.RpcError) else type(error).__name__


class SyncDriver:
    """Interop operations on a sync ``grpc.Channel``."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.channel: Any = channel  # Any: the typed stubs fix request types per multi-callable

    def unary(self, method: str, request: bytes, **options: Any) -> Outcome:
        try:
            response, call = self.channel.unary_unary(method).with_call(request, **options)
        except grpc.RpcError as error:
            return self._ended(error, error, None)
        return self._ended(None, call, _shape(response))

    def unary_future(self, method: str, request: bytes, **options: Any) -> Outcome:
        """``future()``, then ``result()``; the future is also the call."""
        future = self.channel.unary_unary(method).future(request, **options)
        try:
            response = future.result(timeout=WAIT)
        except grpc.RpcError as error:
            return self._ended(error, future, None)
        return self._ended(None, future, _shape(response))

    def client_stream(self, method: str, requests: Sequence[bytes], **options: Any) -> Outcome:
        multi = self.channel.stream_unary(method)
        try:
            response, call = multi.with_call(iter(requests), **options)
        except grpc.RpcError as error:
            return self._ended(error, error, None)
        return self._ended(None, call, _shape(response))

    def server_stream(self, method: str, request: bytes, **options: Any) -> Outcome:
        return self._drain(self.channel.unary_stream(method)(request, **options))

    def bidi(
        self, method: str, requests: Sequence[bytes], style: str = "iterator", **options: Any
    ) -> Outcome:
        """``style`` only matters on aio; a sync call always takes an iterator."""
        return self._drain(self.channel.stream_stream(method)(iter(requests), **options))

    def ping_pong(self, method: str, requests: Sequence[bytes], **options: Any) -> Outcome:
        """Send one request, wait for its response, then the next; half-close at the end."""
        pending: queue.Queue[bytes | None] = queue.Queue()

        def stream() -> Iterator[bytes]:
            while (request := pending.get(timeout=WAIT)) is not None:
                yield request

        call = self.channel.stream_stream(method)(stream(), **options)
        responses: list[Any] = []
        error: BaseException | None = None
        try:
            for request in requests:
                pending.put(request)
                responses.append(_shape(next(call)))
            pending.put(None)
            responses.extend(_shape(message) for message in call)
        except grpc.RpcError as rpc_error:
            error = rpc_error
        return self._ended(error, call, tuple(responses))

    def cancel_after_begin(self, method: str) -> Outcome:
        """Start a client-streaming ``future()`` that sends nothing yet, cancel it at once."""
        release = threading.Event()

        def stream() -> Iterator[bytes]:
            release.wait(WAIT)
            yield from ()

        future = self.channel.stream_unary(method).future(stream())
        try:
            state = (future.cancel(), future.cancelled(), future.done(), future.running())
            error: BaseException | None = None
            try:
                future.result(timeout=WAIT)
            except (grpc.FutureCancelledError, grpc.RpcError) as raised:
                error = raised
            ran = threading.Event()
            future.add_done_callback(lambda _future: ran.set())
            callbacks_ran = ran.wait(WAIT)
            return Outcome(_raised(error), future.code(), future.details(), (*state, callbacks_ran))
        finally:
            release.set()

    def cancel_after_first_response(self, method: str, request: bytes) -> Outcome:
        """A bidi call: send one request, read its response, cancel, read again."""
        release = threading.Event()

        def stream() -> Iterator[bytes]:
            yield request
            release.wait(WAIT)

        call = self.channel.stream_stream(method)(stream())
        try:
            first = _shape(next(call))
            cancelled = call.cancel()
            error: BaseException | None = None
            try:
                next(call)
            except (grpc.RpcError, StopIteration) as raised:
                error = raised
            state = (first, cancelled, call.cancelled(), call.done())
            return Outcome(_raised(error), call.code(), call.details(), state)
        finally:
            release.set()

    @staticmethod
    def _drain(call: Any) -> Outcome:
        responses: list[Any] = []
        error: BaseException | None = None
        try:
            responses.extend(_shape(message) for message in call)
        except grpc.RpcError as rpc_error:
            error = rpc_error
        return SyncDriver._ended(error, call, tuple(responses))

    @staticmethod
    def _ended(error: BaseException | None, call: Any, value: Any) -> Outcome:
        return Outcome(
            _raised(error),
            call.code(),
            call.details(),
            value,
            _echoed(call.initial_metadata()),
            _echoed(call.trailing_metadata()),
            _rich(call),
        )
