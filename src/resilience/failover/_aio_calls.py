"""grpc.aio call objects that can switch from the local attempt to the remote one.

Unary-response calls run the local attempt and the one possible failover in a task, so awaiting
the call (or not) behaves as with gRPC's own call objects. Stream-response calls fail over
inside :meth:`read` while no response message has arrived. Status accessors (``code()``,
``details()``, metadata) describe the attempt that produced the outcome the caller sees.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Generator
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio

from resilience.failover._requests import Attempts, WriteQueue

if TYPE_CHECKING:
    _UnaryUnaryCall = grpc.aio.UnaryUnaryCall[Any, Any]
    _StreamUnaryCall = grpc.aio.StreamUnaryCall[Any, Any]
    _UnaryStreamCall = grpc.aio.UnaryStreamCall[Any, Any]
    _StreamStreamCall = grpc.aio.StreamStreamCall[Any, Any]
else:
    _UnaryUnaryCall = grpc.aio.UnaryUnaryCall
    _StreamUnaryCall = grpc.aio.StreamUnaryCall
    _UnaryStreamCall = grpc.aio.UnaryStreamCall
    _StreamStreamCall = grpc.aio.StreamStreamCall

StartRemote = Callable[[Attempts], Any]
"""Start the remote attempt (an aio call object) with the attempts' remote options."""


class _Delegating:
    """What every call shares: the attempt currently answering and the caller's write queue."""

    def __init__(
        self,
        local: Any,
        attempts: Attempts,
        start_remote: StartRemote,
        writes: WriteQueue[Any] | None = None,
    ) -> None:
        self._current = local
        self._attempts = attempts
        self._start_remote = start_remote
        self._writes = writes
        self._cancel_requested = False
        self._begin()

    def _begin(self) -> None:
        """Set up the response side once the fields above are set (each response kind does)."""

    def _switch(self, error: BaseException) -> bool:
        """Start the remote attempt if the core admits ``error``; return whether it did."""
        if self._cancel_requested or not self._attempts.admit(error):
            return False
        try:
            self._current = self._start_remote(self._attempts)
        except Exception as remote_error:  # could not even start: the local error stands
            self._attempts.finish(remote_error)
            return False
        return True

    def time_remaining(self) -> float | None:
        remaining: float | None = self._current.time_remaining()
        return remaining

    async def wait_for_connection(self) -> None:
        await self._current.wait_for_connection()


class _UnaryResponse(_Delegating):
    """Unary-unary and stream-unary: the whole call, failover included, runs in one task."""

    def _begin(self) -> None:
        self._task: asyncio.Task[Any] = asyncio.ensure_future(self._run())

    async def _run(self) -> Any:
        try:
            try:
                return await self._current
            except grpc.RpcError as error:
                if not self._switch(error):
                    raise
            try:
                response = await self._current
            except grpc.RpcError as remote_error:
                self._attempts.finish(remote_error)
                raise
            except asyncio.CancelledError:
                self._attempts.finish(None)  # the caller gave up: no verdict on the remote
                raise
            self._attempts.finish(None)
            return response
        finally:
            self._attempts.release()

    def __await__(self) -> Generator[Any, None, Any]:
        return self._task.__await__()

    async def _settled(self) -> Any:
        await asyncio.wait((self._task,))
        return self._current

    def cancel(self) -> bool:
        """Cancel the attempt in flight; once True, the call is cancelled and done at once,
        as gRPC's own call is (the task that ran it ends on the next loop turn)."""
        if self._task.done() or self._cancel_requested:
            return False
        self._cancel_requested = True
        self._current.cancel()
        return self._task.cancel()

    def cancelled(self) -> bool:
        return self._cancel_requested or self._task.cancelled()

    def done(self) -> bool:
        return self._cancel_requested or self._task.done()

    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        self._task.add_done_callback(lambda _task: callback(self))

    async def initial_metadata(self) -> Any:
        return await (await self._settled()).initial_metadata()

    async def trailing_metadata(self) -> Any:
        return await (await self._settled()).trailing_metadata()

    async def code(self) -> grpc.StatusCode:
        if self._task.cancelled():
            return grpc.StatusCode.CANCELLED
        code: grpc.StatusCode = await (await self._settled()).code()
        return code

    async def details(self) -> str:
        return str(await (await self._settled()).details())


class _StreamResponse(_Delegating):
    """Unary-stream and stream-stream: an error before the first message fails over once."""

    def _begin(self) -> None:
        self._may_fail_over = True
        self._remote_pending = False

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[Any]:
        while True:
            message = await self.read()
            if message is grpc.aio.EOF:
                return
            yield message

    async def read(self) -> Any:
        try:
            message = await self._current.read()
        except grpc.RpcError as error:
            may_fail_over, self._may_fail_over = self._may_fail_over, False
            if not (may_fail_over and self._switch(error)):
                self._settle(error)
                raise
            self._remote_pending = True
            return await self.read()
        if self._may_fail_over or self._remote_pending:
            self._settle(None)  # the first message (or a clean end) commits the call
        return message

    def _settle(self, error: BaseException | None) -> None:
        if self._remote_pending:
            self._remote_pending = False
            self._attempts.finish(error)
        self._may_fail_over = False
        self._attempts.release()

    def cancel(self) -> bool:
        self._cancel_requested = True
        self._may_fail_over = False
        if not self._current.cancel():
            return False
        self._settle(None)  # a remote attempt in flight counts as succeeded, as on sync
        return True

    def cancelled(self) -> bool:
        return bool(self._current.cancelled())

    def done(self) -> bool:
        return bool(self._current.done())

    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        self._current.add_done_callback(lambda _call: callback(self))

    async def initial_metadata(self) -> Any:
        return await self._current.initial_metadata()

    async def trailing_metadata(self) -> Any:
        return await self._current.trailing_metadata()

    async def code(self) -> grpc.StatusCode:
        code: grpc.StatusCode = await self._current.code()
        return code

    async def details(self) -> str:
        return str(await self._current.details())


class _Writes(_Delegating):
    """``write()`` / ``done_writing()`` for calls made without a request iterator: the
    messages go through the replay log like an iterator's. Writes never block."""

    async def write(self, request: Any) -> None:
        if self._writes is None:
            raise grpc.aio.UsageError("write() needs a call made without a request iterator")
        await self._writes.write(request)

    async def done_writing(self) -> None:
        if self._writes is None:
            raise grpc.aio.UsageError("done_writing() needs a call made without a request iterator")
        await self._writes.done_writing()


class UnaryUnaryCall(_UnaryResponse, _UnaryUnaryCall):
    """A failover-capable ``grpc.aio.UnaryUnaryCall``."""


class StreamUnaryCall(_Writes, _UnaryResponse, _StreamUnaryCall):
    """A failover-capable ``grpc.aio.StreamUnaryCall`` (``write()`` works without an iterator)."""


class UnaryStreamCall(_StreamResponse, _UnaryStreamCall):
    """A failover-capable ``grpc.aio.UnaryStreamCall``."""


class StreamStreamCall(_Writes, _StreamResponse, _StreamStreamCall):
    """A failover-capable ``grpc.aio.StreamStreamCall`` (``write()`` works without an iterator)."""
