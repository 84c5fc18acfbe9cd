"""The call objects of a call answered by its fallback (see :mod:`._fallbacks`): they behave as
a gRPC call that ended OK with the fallback's response, the way grpc.aio reports a response an
interceptor returned (``UnaryUnaryCallResponse``). ``failure`` is the error the call ended
with, for a caller that wants to know."""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio

from resilience.interceptors._ended_call import EndedCall

if TYPE_CHECKING:
    _Future = grpc.Future[Any]
else:
    _Future = grpc.Future  # not subscriptable at runtime

_OK = grpc.StatusCode.OK


class Answered(EndedCall):
    """A sync call answered by its fallback: the ``grpc.Call`` and ``grpc.Future`` of a call
    that ended OK with ``response`` (what ``with_call`` returns next to the response, and what
    ``result()`` gives)."""

    def __init__(self, response: Any, failure: Any) -> None:
        self._response = response
        self.failure = failure

    def code(self) -> grpc.StatusCode:
        return _OK

    def details(self) -> str:
        return ""

    def trailing_metadata(self) -> Any:
        return ()

    def result(self, timeout: float | None = None) -> Any:
        return self._response

    def exception(self, timeout: float | None = None) -> None:
        return None

    def __repr__(self) -> str:
        return f"<Answered by its fallback after {self.failure!r}>"


class AnsweredLater(grpc.Call, _Future):
    """A sync call the library drives over several attempts (retried or hedged, returned
    before it ends) whose final failure the policy's fallback may answer: until ``inner`` is
    done it stands for it; once done, for ``decide(inner)``, an :class:`Answered` call, or
    ``inner`` itself when the fallback does not answer (decided once)."""

    def __init__(self, inner: Any, decide: Callable[[Any], Any]) -> None:
        self._inner = inner
        self._decide = decide
        self._lock = threading.Lock()
        self._final: Any = None

    def _settled(self, timeout: float | None = None) -> Any:
        """The call that stands for this one once ``inner`` ended (waits at most ``timeout``
        seconds: ``grpc.FutureTimeoutError`` past it)."""
        try:
            self._inner.exception(timeout)
        except grpc.FutureCancelledError:
            return self._inner
        with self._lock:
            if self._final is None:
                self._final = self._decide(self._inner) or self._inner
            return self._final

    def result(self, timeout: float | None = None) -> Any:
        return self._settled(timeout).result()

    def exception(self, timeout: float | None = None) -> Any:
        return self._settled(timeout).exception()

    def traceback(self, timeout: float | None = None) -> Any:
        return self._settled(timeout).traceback()

    def code(self) -> grpc.StatusCode:
        code: grpc.StatusCode = self._settled().code()
        return code

    def details(self) -> str:
        return str(self._settled().details())

    def trailing_metadata(self) -> Any:
        return self._settled().trailing_metadata()

    def initial_metadata(self) -> Any:
        return self._inner.initial_metadata()

    def add_done_callback(self, fn: Callable[[Any], None]) -> None:
        self._inner.add_done_callback(lambda _: fn(self))

    def cancel(self) -> bool:
        return bool(self._inner.cancel())

    def cancelled(self) -> bool:
        return bool(self._inner.cancelled())

    def running(self) -> bool:
        return bool(self._inner.running())

    def done(self) -> bool:
        return bool(self._inner.done())

    def is_active(self) -> bool:
        return bool(self._inner.is_active())

    def time_remaining(self) -> Any:
        return self._inner.time_remaining()

    def add_callback(self, callback: Callable[[], None]) -> bool:
        return bool(self._inner.add_callback(callback))

    def __repr__(self) -> str:
        return f"<AnsweredLater {self._inner!r}>"


class AioAnswered:
    """A grpc.aio unary call answered by its fallback: awaiting it gives ``response``; its
    status reads OK."""

    def __init__(self, response: Any, failure: Any) -> None:
        self._response = response
        self.failure = failure

    def __await__(self) -> Generator[Any, None, Any]:
        return _now(self._response).__await__()

    async def code(self) -> grpc.StatusCode:
        return _OK

    async def details(self) -> str:
        return ""

    async def initial_metadata(self) -> Any:
        return grpc.aio.Metadata()

    async def trailing_metadata(self) -> Any:
        return grpc.aio.Metadata()

    async def wait_for_connection(self) -> None:
        return None

    def cancel(self) -> bool:
        return False

    def cancelled(self) -> bool:
        return False

    def done(self) -> bool:
        return True

    def time_remaining(self) -> float | None:
        return None

    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        callback(self)

    def debug_error_string(self) -> str:
        return ""


async def _now(value: Any) -> Any:
    return value
