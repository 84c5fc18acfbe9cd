"""What a sync call made of several attempts shows its caller: one ``grpc.Future`` and
``grpc.Call`` for the call as a whole (:class:`AttemptsFuture`), whose attempts are gRPC's own
futures driven by their done callbacks (retries: :mod:`._sync_retry`, hedges:
:mod:`._sync_hedge`). Until it is done it stands for an attempt in flight; once done, for the
attempt that decided the call (the winner, or the last failure)."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import grpc

from resilience.interceptors._guard import report

if TYPE_CHECKING:
    _Future = grpc.Future[Any]
else:
    _Future = grpc.Future  # not subscriptable at runtime

_CANCELLED_DETAILS = "Locally cancelled by application!"  # what gRPC says of a cancelled call


class AttemptsFuture(grpc.Call, _Future):
    """The base of a sync call of several attempts (see the module doc). A subclass sets
    :attr:`_attempt` as attempts go and calls :meth:`_end` when the call is decided;
    :meth:`_stop` returns what is still in flight (cancelled at the end) and stops its timers.

    Cancelling the call ends it at once, CANCELLED (``result()`` raises
    ``grpc.FutureCancelledError``), and cancels every attempt in flight. Attempts are sent in
    the caller's context (color, tier, deadline and trace as when the call was made):
    :meth:`_in_context`."""

    def __init__(self, first: Any, left: Callable[[], float | None]) -> None:
        self._left = left
        self._context = contextvars.copy_context()
        self._lock = threading.Lock()
        self._ended = threading.Event()
        self._attempt = first
        self._cancelled = False
        self._callbacks: list[Callable[[Any], None]] = []

    def _stop(self) -> list[Any]:
        """Under the lock, once the call is decided: stop timers and return the attempts still
        in flight (they are cancelled)."""
        raise NotImplementedError

    def _in_context(self, send: Callable[[float | None], Any]) -> Any:
        """``send(seconds left of the caller's timeout)`` run in the caller's context."""
        return self._context.copy().run(send, self._left())

    def _end(self, decided_by: Any = None) -> None:
        """End the call, decided by the attempt ``decided_by`` (default the current one)."""
        with self._lock:
            if self._ended.is_set():
                return
            if decided_by is not None:
                self._attempt = decided_by
            self._ended.set()
            leftovers = self._stop()
            callbacks, self._callbacks = self._callbacks, []
        for attempt in leftovers:
            attempt.cancel()
        for callback in callbacks:
            try:
                callback(self)
            except Exception as exc:
                report("a future's done callback", exc)

    def _wait(self, timeout: float | None) -> bool:
        """Wait until the call has ended (at most ``timeout`` seconds); whether it has."""
        return self._ended.wait(timeout)

    def _last(self, timeout: float | None = None) -> Any:
        """The attempt that decided the call, once it ended (``timeout`` seconds at most)."""
        if not self._wait(timeout):
            raise grpc.FutureTimeoutError()
        return self._attempt

    # grpc.Future
    def cancel(self) -> bool:
        with self._lock:
            if self._ended.is_set():
                return False
            self._cancelled = True
        self._end()
        return True

    def cancelled(self) -> bool:
        return self._cancelled

    def running(self) -> bool:
        return not self._ended.is_set()

    def done(self) -> bool:
        return self._ended.is_set()

    def result(self, timeout: float | None = None) -> Any:
        last = self._last(timeout)
        if self._cancelled:
            raise grpc.FutureCancelledError()
        return last.result()

    def exception(self, timeout: float | None = None) -> Any:
        last = self._last(timeout)
        if self._cancelled:
            raise grpc.FutureCancelledError()
        return last.exception()

    def traceback(self, timeout: float | None = None) -> Any:
        last = self._last(timeout)
        if self._cancelled:
            raise grpc.FutureCancelledError()
        return last.traceback()

    def add_done_callback(self, fn: Callable[[Any], None]) -> None:
        with self._lock:
            if not self._ended.is_set():
                self._callbacks.append(fn)
                return
        fn(self)

    # grpc.Call
    def initial_metadata(self) -> Any:
        return self._last().initial_metadata()

    def trailing_metadata(self) -> Any:
        return self._last().trailing_metadata()

    def code(self) -> grpc.StatusCode:
        last = self._last()
        if self._cancelled:
            return grpc.StatusCode.CANCELLED
        code: grpc.StatusCode = last.code()
        return code

    def details(self) -> str:
        last = self._last()
        if self._cancelled:
            return _CANCELLED_DETAILS
        details: str = last.details()
        return details

    def debug_error_string(self) -> str:
        return str(self._last().debug_error_string())

    def is_active(self) -> bool:
        return not self._ended.is_set()

    def time_remaining(self) -> Any:
        return self._left()

    def add_callback(self, callback: Callable[[], None]) -> bool:
        with self._lock:
            if self._ended.is_set():
                return False
            self._callbacks.append(lambda _: callback())
            return True

    def __repr__(self) -> str:
        state = "done" if self._ended.is_set() else "running"
        return f"<{type(self).__name__} {state}: {self._attempt!r}>"
