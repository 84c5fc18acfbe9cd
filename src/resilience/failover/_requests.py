"""A call's request side: bounded logs of streamed request messages, and its attempts.

A client-streaming or bidi call consumes its request iterator as it goes; to send the same
call to the remote center the messages already sent must be kept. Each attempt reads through
the log: messages already pulled are replayed from memory, new ones are pulled from the caller's
iterator (under a lock, so the abandoned local attempt and the remote one never pull at once) and
appended. Past ``max_messages`` or ``max_bytes`` the log stops keeping messages and the call is
no longer replayable (it will not fail over); the caller's stream itself goes on untouched.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import grpc

if TYPE_CHECKING:
    from resilience.failover._core import FailoverCore, Plan

T = TypeVar("T")

DEFAULT_MAX_MESSAGES = 1000
"""Request messages kept per call for a replay; a longer stream does not fail over."""
DEFAULT_MAX_BYTES = 4 * 1024 * 1024
"""Serialized request bytes kept per call for a replay; a larger stream does not fail over."""


def message_size(message: object, serializer: Callable[[Any], bytes] | None) -> int:
    """The serialized size of ``message`` in bytes, cheaply when it can tell (protobuf, bytes)."""
    if isinstance(message, (bytes, bytearray, memoryview)):
        return len(message)
    byte_size = getattr(message, "ByteSize", None)
    if callable(byte_size):
        return int(byte_size())
    if serializer is not None:
        return len(serializer(message))
    return 0


class _Limits:
    __slots__ = ("bytes", "max_bytes", "max_messages", "replayable", "serializer")

    def __init__(
        self, max_messages: int, max_bytes: int, serializer: Callable[[Any], bytes] | None
    ) -> None:
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.serializer = serializer
        self.bytes = 0
        self.replayable = True

    def keep(self, kept: list[Any], message: object) -> None:
        """Append ``message`` to ``kept`` unless that breaks a bound; then drop the whole log."""
        if not self.replayable:
            return
        self.bytes += message_size(message, self.serializer)
        if len(kept) >= self.max_messages or self.bytes > self.max_bytes:
            self.replayable = False
            kept.clear()
            return
        kept.append(message)


class _Log(Generic[T]):
    """What the sync and asyncio logs share: the kept messages and their bounds.

    Both read through the log the same way (see :meth:`RequestLog.attempt`); only the pulling
    differs, a lock and ``next`` there, an asyncio lock and ``anext`` in :class:`AioRequestLog`.
    """

    def __init__(
        self, max_messages: int, max_bytes: int, serializer: Callable[[Any], bytes] | None
    ) -> None:
        self._kept: list[T] = []
        self._pulled = 0
        self._exhausted = False
        self._limits = _Limits(max_messages, max_bytes, serializer)

    @property
    def replayable(self) -> bool:
        """False once the stream outgrew the bounds: a new attempt would miss messages."""
        return self._limits.replayable

    def release(self) -> None:
        """Forget the kept messages (the call is over or will not fail over)."""
        self._limits.replayable = False
        self._kept.clear()


class RequestLog(_Log[T]):
    """The sync log: :meth:`attempt` returns a fresh iterator for one attempt."""

    def __init__(
        self,
        source: Iterable[T],
        *,
        max_messages: int = DEFAULT_MAX_MESSAGES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        serializer: Callable[[Any], bytes] | None = None,
    ) -> None:
        super().__init__(max_messages, max_bytes, serializer)
        self._source = iter(source)
        self._lock = threading.Lock()

    def attempt(self) -> Iterator[T]:
        """Every request message, replayed from the log first, then pulled from the source."""
        position = 0
        while True:
            with self._lock:
                if position < self._pulled:
                    if not self._limits.replayable:
                        return  # cannot happen for the first attempt; later ones are refused
                    message = self._kept[position]
                elif self._exhausted:
                    return
                else:
                    try:
                        message = next(self._source)
                    except StopIteration:
                        self._exhausted = True
                        return
                    self._pulled += 1
                    self._limits.keep(self._kept, message)
            position += 1
            yield message


class AioRequestLog(_Log[T]):
    """The asyncio log over an async or sync iterable: :meth:`attempt` is an async iterator."""

    def __init__(
        self,
        source: AsyncIterable[T] | Iterable[T],
        *,
        max_messages: int = DEFAULT_MAX_MESSAGES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        serializer: Callable[[Any], bytes] | None = None,
    ) -> None:
        super().__init__(max_messages, max_bytes, serializer)
        self._source = source
        self._async: AsyncIterator[T] | None = None
        self._sync: Iterator[T] | None = None
        self._lock = asyncio.Lock()

    async def _pull(self) -> T:
        if self._async is None and self._sync is None:
            if isinstance(self._source, AsyncIterable):
                self._async = aiter(self._source)
            else:
                self._sync = iter(self._source)
        if self._async is not None:
            return await anext(self._async)
        assert self._sync is not None
        try:
            return next(self._sync)
        except StopIteration:
            raise StopAsyncIteration from None

    async def attempt(self) -> AsyncIterator[T]:
        """Every request message, replayed from the log first, then pulled from the source."""
        position = 0
        while True:
            async with self._lock:
                if position < self._pulled:
                    if not self._limits.replayable:
                        return
                    message = self._kept[position]
                elif self._exhausted:
                    return
                else:
                    try:
                        message = await self._pull()
                    except StopAsyncIteration:
                        self._exhausted = True
                        return
                    self._pulled += 1
                    self._limits.keep(self._kept, message)
            position += 1
            yield message


class WriteQueue(Generic[T]):
    """An async iterator fed by ``write()`` / ``done_writing()``, for aio calls made without a
    request iterator: the log reads it like any other request stream. Writes never block."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[tuple[bool, T | None]] = asyncio.Queue()

    async def write(self, message: T) -> None:
        self._queue.put_nowait((True, message))

    async def done_writing(self) -> None:
        self._queue.put_nowait((False, None))

    def __aiter__(self) -> AsyncIterator[T]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[T]:
        while True:
            more, message = await self._queue.get()
            if not more:
                return
            yield message  # type: ignore[misc]  # present whenever more is True


class Attempts:
    """One call's arguments and how to start its local and remote attempts."""

    __slots__ = ("core", "log", "options", "plan", "request")

    def __init__(
        self,
        core: FailoverCore,
        plan: Plan,
        request: Any,
        log: RequestLog[Any] | AioRequestLog[Any] | None,
        **options: Any,
    ) -> None:
        self.core = core
        self.plan = plan
        self.request = request
        self.log = log
        self.options = options

    def message(self) -> Any:
        """The request, or a fresh replaying iterator over the request stream."""
        return self.request if self.log is None else self.log.attempt()

    def admit(self, error: BaseException) -> bool:
        replayable = self.log is None or self.log.replayable
        return self.core.admit(self.plan, error, replayable=replayable)

    def remote_options(self) -> dict[str, Any]:
        return {
            **self.options,
            "timeout": self.plan.remote_timeout,
            "metadata": self.plan.remote_metadata,
        }

    def finish(self, error: BaseException | None) -> None:
        self.core.finish(self.plan, error)

    def release(self) -> None:
        if self.log is not None:
            self.log.release()


def call_options(
    credentials: grpc.CallCredentials | None,
    wait_for_ready: bool | None,
    compression: grpc.Compression | None,
) -> dict[str, Any]:
    """The per-call options every multi-callable passes on to both attempts unchanged."""
    return {
        "credentials": credentials,
        "wait_for_ready": wait_for_ready,
        "compression": compression,
    }


class Shape:
    """What the sync and aio multi-callables share: the method, the local and the remote
    channel's multi-callable for it, the core, and how a call's attempts are set up."""

    def __init__(
        self, core: FailoverCore, method: str, local: Any, remote: Any, serializer: Any
    ) -> None:
        self._core = core
        self._method = method
        self._local = local
        self._remote = remote
        self._serializer = serializer

    def _attempts(
        self,
        plan: Plan,
        request: Any,
        log_type: type[RequestLog[Any] | AioRequestLog[Any]] | None,
        options: dict[str, Any],
    ) -> Attempts:
        """The attempts of an eligible call; a request stream (``log_type`` given) is logged
        for a replay within the core's bounds."""
        log = None
        if log_type is not None:
            log = log_type(request, serializer=self._serializer, **self._core.replay_limits)
        return Attempts(self._core, plan, request, log, **options)
