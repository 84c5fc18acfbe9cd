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

_CANCELLED_DETAILS = "Locally cancelled by application!"
"""What gRPC's own calls report as details after ``cancel()``."""


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
        self._cancelled = False
        self._done_callbacks: list[Callable[[Any], None]] = []
        self._rpc_callbacks: list[Callable[[], None]] = []
        local.add_done_callback(self._local_done)

    def _local_done(self, local: Any) -> None:
        error = None if self._cancelled else _error_of(local)
        remote = None if error is None else self._fail_over(error)
        if remote is None:
            self._settle()
            return
        with self._condition:
            cancelled = self._cancelled  # cancel() came as the remote attempt started
            if not cancelled:
                self._call = remote
        if cancelled:
            remote.cancel()
        remote.add_done_callback(self._remote_done)

    def _remote_done(self, remote: Any) -> None:
        error = None if remote.cancelled() else _error_of(remote)
        self._finish(error)
        self._settle()

    def _settle(self, *, cancelled: bool = False) -> bool:
        """End the future once: by the answering attempt's end, or at once by ``cancel()``
        (which then cancels the attempt it finds). False when it had already ended."""
        with self._condition:
            if self._settled:
                return False
            self._settled = True
            self._cancelled = cancelled
            call = self._call
            self._condition.notify_all()
            callbacks, self._done_callbacks = self._done_callbacks, []
            rpc_callbacks, self._rpc_callbacks = self._rpc_callbacks, []
        if cancelled:
            call.cancel()
        self._release()
        for callback in rpc_callbacks:
            _run(callback)
        for done_callback in callbacks:
            _run(done_callback, self)
        return True

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
        """Cancel the call unless the future is done. Once True, the future is cancelled and
        done at once, ``result()`` raises ``grpc.FutureCancelledError`` and the done callbacks
        have run. It cancels the attempt in flight, also while the local attempt is failing
        over: a remote attempt still starting is cancelled as the future switches to it."""
        return self._settle(cancelled=True)

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

    def time_remaining(self) -> float | None:  # type: ignore[override]  # gRPC's stubs say float; its calls give None
        """Seconds left before the deadline of the current attempt; None without one."""
        with self._condition:
            call = self._call
        remaining: float | None = call.time_remaining()
        return remaining

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
        """CANCELLED once ``cancel()`` returned True, else the answering attempt's code."""
        call = self._wait(None)
        code: grpc.StatusCode = grpc.StatusCode.CANCELLED if self._cancelled else call.code()
        return code

    def details(self) -> str:
        """gRPC's text for a local cancellation once cancelled, else the attempt's details."""
        call = self._wait(None)
        return _CANCELLED_DETAILS if self._cancelled else str(call.details())
