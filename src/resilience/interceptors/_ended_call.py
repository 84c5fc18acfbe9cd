"""A sync call that has already ended when the caller receives it: what gRPC's ``grpc.Call``
and ``grpc.Future`` say of such a call (not active, no time left, done, nothing to cancel).
The locally refused call and the call answered by its fallback build on it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import grpc

if TYPE_CHECKING:
    _Future = grpc.Future[Any]
else:
    _Future = grpc.Future  # not subscriptable at runtime


class EndedCall(grpc.Call, _Future):
    """The parts every ended sync call shares; subclasses give ``code()``, ``details()``,
    the metadata, ``result()`` and ``exception()``. Done callbacks run at once, in the caller's
    thread, as gRPC runs those added after a call ended."""

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

    def traceback(self, timeout: float | None = None) -> None:
        return None

    def add_done_callback(self, fn: Callable[[Any], None]) -> None:
        fn(self)
