"""The call objects of a call answered by its fallback (see :mod:`._fallbacks`): they behave as
a gRPC call that ended OK with the fallback's response, the way grpc.aio reports a response an
interceptor returned (``UnaryUnaryCallResponse``). ``failure`` is the error the call ended
with, for a caller that wants to know."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio

if TYPE_CHECKING:
    _Future = grpc.Future[Any]
else:
    _Future = grpc.Future  # not subscriptable at runtime

_OK = grpc.StatusCode.OK


class Answered(grpc.Call, _Future):
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

    def initial_metadata(self) -> Any:
        return ()

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> Any:
        return None

    def add_callback(self, callback: Callable[[], None]) -> bool:
        return False

    def cancel(self) -> bool:
        return False

    def cancelled(self) -> bool:
        return False

    def running(self) -> bool:
        return False

    def done(self) -> bool:
        return True

    def result(self, timeout: float | None = None) -> Any:
        return self._response

    def exception(self, timeout: float | None = None) -> None:
        return None

    def traceback(self, timeout: float | None = None) -> None:
        return None

    def add_done_callback(self, fn: Callable[[Any], None]) -> None:
        fn(self)

    def __repr__(self) -> str:
        return f"<Answered by its fallback after {self.failure!r}>"


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
