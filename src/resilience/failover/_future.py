"""``future()`` of unary-response methods on :class:`~resilience.failover.DualCenterChannel`.

:class:`FailoverFuture` switches to the remote attempt in the local attempt's done callback, so
nothing blocks until the caller asks for the result, and hands the remote attempt's outcome to
``finish`` exactly once. ``cancel()`` settles it at once, as gRPC's own futures do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import grpc

from resilience.failover._calls import FailOver, Finish, _CallFuture, _run


def _error_of(future: Any) -> BaseException | None:
    if future.cancelled():
        return None
    error: BaseException | None = future.exception()
    return error


class FailoverFuture(_CallFuture):
    """A Call and Future whose result is the remote attempt's when the local one failed over."""

    def __init__(
        self, local: Any, fail_over: FailOver, finish: Finish, release: Callable[[], None]
    ) -> None:
        self._condition = threading.Condition()
        self._call = local
        self._fail_over = fail_over
        self._finish = finish
        self._release = release
        self._settled = False
        self._cancel_requested = False
        self._cancelled = False
        self._done_callbacks: list[Callable[[Any], None]] = []
        self._rpc_callbacks: list[Callable[[], None]] = []
        local.add_done_callback(self._local_done)

    def _local_done(self, local: Any) -> None:
        error = None if self._cancel_requested else _error_of(local)
        remote = None if error is None else self._fail_over(error)
        if remote is None:
            self._settle()
            return
        with self._condition:
            self._call = remote
            cancel = self._cancel_requested  # cancel() came as the remote attempt started
        if cancel:
            remote.cancel()
        remote.add_done_callback(self._remote_done)

    def _remote_done(self, remote: Any) -> None:
        error = None if remote.cancelled() else _error_of(remote)
        self._finish(error)
        self._settle()

    def _settle(self, *, cancelled: bool = False) -> None:
        """End the future once: by the answering attempt's end, or at once by ``cancel()``."""
        with self._condition:
            if self._settled:
                return
            self._settled = True
            self._cancelled = cancelled
            self._condition.notify_all()
            callbacks, self._done_callbacks = self._done_callbacks, []
            rpc_callbacks, self._rpc_callbacks = self._rpc_callbacks, []
        self._release()
        for callback in rpc_callbacks:
            _run(callback)
        for done_callback in callbacks:
            _run(done_callback, self)

    def _wait(self, timeout: float | None, *, outcome: bool = False) -> Any:
        """The attempt that answers; ``outcome``: raise FutureCancelledError if cancelled."""
        with self._condition:
            if not self._condition.wait_for(lambda: self._settled, timeout):
                raise grpc.FutureTimeoutError()
            if outcome and self._cancelled:
                raise grpc.FutureCancelledError()
            return self._call

    # -- grpc.Future -----------------------------------------------------------------------

    def cancel(self) -> bool:
        """Cancel the attempt in flight. Once True, the future is cancelled and done at once,
        ``result()`` raises ``grpc.FutureCancelledError`` and the done callbacks have run."""
        with self._condition:
            if self._settled:
                return False
            self._cancel_requested = True
            call = self._call
        if not call.cancel():
            with self._condition:
                if self._settled or self._call is call:
                    return False  # the attempt had ended: its outcome stands
            # the local attempt failed over meanwhile; _local_done cancels the remote one
        self._settle(cancelled=True)
        return True

    def cancelled(self) -> bool:
        with self._condition:
            return self._settled and (self._cancelled or bool(self._call.cancelled()))

    def running(self) -> bool:
        return not self.done()

    def done(self) -> bool:
        with self._condition:
            return self._settled

    def result(self, timeout: float | None = None) -> Any:
        return self._wait(timeout, outcome=True).result()

    def exception(self, timeout: float | None = None) -> Exception | None:
        error: Exception | None = self._wait(timeout, outcome=True).exception()
        return error

    def traceback(self, timeout: float | None = None) -> Any:
        return self._wait(timeout, outcome=True).traceback()

    def add_done_callback(self, fn: Callable[[Any], None]) -> None:
        with self._condition:
            if not self._settled:
                self._done_callbacks.append(fn)
                return
        _run(fn, self)

    # -- grpc.Call -------------------------------------------------------------------------

    def is_active(self) -> bool:
        return not self.done()

    def time_remaining(self) -> float:
        with self._condition:
            call = self._call
        return float(call.time_remaining())

    def add_callback(self, callback: Callable[[], None]) -> bool:
        with self._condition:
            if self._settled:
                return False
            self._rpc_callbacks.append(callback)
            return True

    def initial_metadata(self) -> Any:
        return self._wait(None).initial_metadata()

    def trailing_metadata(self) -> Any:
        return self._wait(None).trailing_metadata()

    def code(self) -> grpc.StatusCode:
        code: grpc.StatusCode = self._wait(None).code()
        return code

    def details(self) -> str:
        return str(self._wait(None).details())
