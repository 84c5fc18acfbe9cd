"""The retried call of a sync channel: a ``grpc.Future`` whose attempts follow each other
from done callbacks, with the backoff waited on a timer.

A ``.future()`` call returns at once, so its retries cannot use the caller's thread: each
attempt's done callback (run by gRPC when the attempt ends) decides, and a retry waits its
backoff on a ``threading.Timer`` (a thread that ends when the wait is over, or at once when the
call is cancelled), then sends the next attempt in the caller's context (color, tier, deadline
and trace as when the call was made). The interceptor form uses it for blocking calls too (the
caller waits in ``result()``): an interceptor cannot tell a blocking call from a future. A
``protect()``-ed channel retries a blocking call in the caller's thread instead.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import grpc

from resilience.interceptors._client_retry import Retrying
from resilience.interceptors._guard import report
from resilience.interceptors._sync_call import LocalRejection

if TYPE_CHECKING:
    _Future = grpc.Future[Any]
else:
    _Future = grpc.Future  # not subscriptable at runtime

_CANCELLED_DETAILS = "Locally cancelled by application!"  # what gRPC says of a cancelled call


class RetriedFuture(grpc.Call, _Future):
    """A ``.future()`` call of a method with a ``retry`` section: the Future and Call of the
    call as a whole. Until it is done it stands for the attempt in flight; once done, for the
    last attempt (its status, metadata, result or error). ``send(timeout)`` starts the next
    attempt through the client pipeline (or returns its :class:`LocalRejection`).

    Cancelling it cancels the attempt in flight, or the wait for the next one (the call then
    ends CANCELLED); a retry that cannot be sent (say, the channel was closed) ends the call
    with the last attempt's status."""

    def __init__(self, first: Any, retrying: Retrying, send: Callable[[float | None], Any]) -> None:
        self._retrying = retrying
        self._send = send
        self._context = contextvars.copy_context()
        self._lock = threading.Lock()
        self._ended = threading.Event()
        self._attempt = first
        self._timer: threading.Timer | None = None
        self._cancelled = False
        self._callbacks: list[Callable[[Any], None]] = []
        first.add_done_callback(self._attempt_done)

    def _attempt_done(self, attempt: Any) -> None:
        """An attempt ended: send the next one after its backoff, or end the call."""
        with self._lock:
            if attempt is not self._attempt or self._ended.is_set():
                return
            wait = None
            if not self._cancelled and not isinstance(attempt, LocalRejection):
                try:
                    wait = self._retrying.delay(attempt.code(), attempt.trailing_metadata())
                except Exception as exc:  # a bug: the call ends with this attempt's status
                    report("client retry decision", exc)
            if wait is not None:
                timer = self._timer = threading.Timer(wait, self._again)
                timer.daemon = True
                timer.start()
                return
        self._end()

    def _again(self) -> None:
        """The backoff is over: send the next attempt (in the caller's context)."""
        with self._lock:
            self._timer = None
            cancelled = self._cancelled
        if cancelled:
            return
        try:
            attempt = self._context.copy().run(self._send, self._retrying.left())
        except Exception as exc:
            report("client retry sending", exc)
            self._end()
            return
        with self._lock:
            self._attempt = attempt
            cancelled = self._cancelled
        if cancelled:
            attempt.cancel()
        attempt.add_done_callback(self._attempt_done)

    def _end(self) -> None:
        with self._lock:
            if self._ended.is_set():
                return
            self._ended.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback(self)
            except Exception as exc:
                report("a future's done callback", exc)

    def _last(self, timeout: float | None = None) -> Any:
        """The last attempt, once the call has ended (``timeout`` seconds at most)."""
        if not self._ended.wait(timeout):
            raise grpc.FutureTimeoutError()
        return self._attempt

    def _cancelled_between(self) -> bool:
        """Cancelled while waiting for the next attempt (the last one ended on its own)."""
        return self._cancelled and not self._attempt.cancelled()

    # grpc.Future
    def cancel(self) -> bool:
        with self._lock:
            if self._ended.is_set():
                return False
            self._cancelled = True
            timer, self._timer = self._timer, None
            attempt = self._attempt
        if timer is None:
            attempt.cancel()  # its done callback ends the call
        else:
            timer.cancel()
            self._end()
        return True

    def cancelled(self) -> bool:
        return self._cancelled and self._ended.is_set()

    def running(self) -> bool:
        return not self._ended.is_set()

    def done(self) -> bool:
        return self._ended.is_set()

    def result(self, timeout: float | None = None) -> Any:
        last = self._last(timeout)
        if self._cancelled_between():
            raise grpc.FutureCancelledError()
        return last.result()

    def exception(self, timeout: float | None = None) -> Any:
        last = self._last(timeout)
        if self._cancelled_between():
            raise grpc.FutureCancelledError()
        return last.exception()

    def traceback(self, timeout: float | None = None) -> Any:
        last = self._last(timeout)
        if self._cancelled_between():
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
        if self._cancelled_between():
            return grpc.StatusCode.CANCELLED
        code: grpc.StatusCode = last.code()
        return code

    def details(self) -> str:
        last = self._last()
        if self._cancelled_between():
            return _CANCELLED_DETAILS
        details: str = last.details()
        return details

    def debug_error_string(self) -> str:
        return str(self._last().debug_error_string())

    def is_active(self) -> bool:
        return not self._ended.is_set()

    def time_remaining(self) -> Any:
        return self._retrying.left()

    def add_callback(self, callback: Callable[[], None]) -> bool:
        with self._lock:
            if self._ended.is_set():
                return False
            self._callbacks.append(lambda _: callback())
            return True

    def __repr__(self) -> str:
        state = "done" if self._ended.is_set() else "running"
        return f"<RetriedFuture {state}, attempt {self._retrying.number}: {self._attempt!r}>"
